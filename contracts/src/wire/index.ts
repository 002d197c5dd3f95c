export * from './signing.ts';
export * from './messages.ts';
export * from './subjects.ts';
export * from './x509.ts';
export * from './revocation.ts';
export * from './certificates.ts';
export * from './confidential.ts';
export * from './outlook.ts';
