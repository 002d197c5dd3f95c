// Parties as an operator runs them, and the one way to wait on a condition: the product's
// runner modules (the demo, the bench and the soak use the same).
export { filesIn, PartyProcess, pidsWith, processAlive, runElfe, type Finished } from '../../hub/src/runner/partyProcess.ts';
export { until } from '../../hub/src/runner/until.ts';
