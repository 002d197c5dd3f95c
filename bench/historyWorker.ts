// A worker thread of the history builder: plans the births it is sent (historyParties.ts) and
// answers with their steps, signed and encrypted.
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../hub/src/config/config.ts';
import { makeScenarios, type BirthScenario } from '../hub/src/demo/synthetic.ts';
import { historyParties, type PartiesSetup } from './historyParties.ts';

const setup = workerData as PartiesSetup;
const plan = historyParties(setup);
const { standesaemter } = loadConfig(setup.hubConfigFile);
// The births of the chunk in hand, made here rather than sent: each worker makes the same ones
// (the same seed) and plans those it is asked for.
let scenarios: { chunk: number; births: BirthScenario[] } | undefined;
const scenariosOf = (chunk: number, births: number): BirthScenario[] => {
  if (scenarios?.chunk !== chunk) scenarios = { chunk, births: makeScenarios({ births, seed: setup.seed + chunk, standesaemter, firstEntry: 1 + chunk * setup.chunkBirths }) };
  return scenarios.births;
};

parentPort!.on('message', (request: { id: number; chunk: number; births: number; from: number; to: number }) => {
  void (async () => {
    try {
      const plans = [];
      for (const s of scenariosOf(request.chunk, request.births).slice(request.from, request.to)) plans.push(await plan(s, request.chunk));
      parentPort!.postMessage({ id: request.id, plans });
    } catch (error) {
      parentPort!.postMessage({ id: request.id, error: (error as Error).stack ?? String(error) });
    }
  })();
});
