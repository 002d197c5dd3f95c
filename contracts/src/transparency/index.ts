export * from './merkle.ts';
export * from './logEntry.ts';
export * from './checkpoint.ts';
export * from './proofs.ts';
export * from './cosignature.ts';
export * from './witnessRequest.ts';
export * from './tlogProof.ts';
