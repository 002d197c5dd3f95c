// Parties for the tests: made as the exchange makes them (hub/src/runner/parties.ts, shared with the bench).
export * from '../../hub/src/runner/parties.ts';
