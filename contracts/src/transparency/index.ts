export * from './merkle.ts';
export * from './logEntry.ts';
export * from './checkpoint.ts';
export * from './proofs.ts';
