export * from './errors.ts';
export { secureParse, defaultLimits, namespaces, type ParseLimits, type Release, type ParsedDocument } from './secureParse.ts';
export * from './readers.ts';
export * from './join.ts';
export * from './writers.ts';
