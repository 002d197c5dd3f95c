// The shared language of elfe-hub: everything the Standesamt connector writes, the hub
// records and routes, and the agency connectors and auditors read.
export * from './src/result.ts';
export * from './src/canonicalJson.ts';
export * from './src/hashing.ts';
export * from './src/names.ts';
export * from './src/envelope.ts';
export * from './src/identifiers/idnr.ts';
export * from './src/identifiers/registry.ts';
export * from './src/events/index.ts';
export * from './src/wire/index.ts';
export * from './src/xpersonenstand/index.ts';
export * from './src/transparency/index.ts';
