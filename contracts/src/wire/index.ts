export * from './signing.ts';
export * from './messages.ts';
export * from './subjects.ts';
export * from './certificates.ts';
export * from './confidential.ts';
