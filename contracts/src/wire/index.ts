export * from './signing.ts';
export * from './messages.ts';
export * from './subjects.ts';
