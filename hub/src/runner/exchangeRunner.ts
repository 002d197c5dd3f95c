// The whole exchange on one machine, each party as its own process with its own command, for
// the demo, the tests, the bench and the soak: `elfe exchange init` lays it out (unless the
// caller laid it out already), then the local witness, the hub with its nats-server, the
// agencies' connectors and the Standesämter's watchers start, each waited for until ready.
// Any party can be killed (SIGKILL included) and started again with its normal command; with a
// restart policy (`elfe start`, the demo) a party that dies on its own is started again by the
// runner. A failed start stops what started; `stop` ends them all in reverse order and waits for
// every one, even when one fails.
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Role } from '../../../contracts/index.ts';
import { exchangeProcesses, type Exchange, type LocalWitness, type ProvisionedParty } from '../app/exchange.ts';
import { freePort } from '../infra/nats/natsServer.ts';
import { PartyProcess, runElfe, type ChildGivenUp, type RestartPolicy } from './partyProcess.ts';

/** What the runner needs of a laid-out exchange (what `provisionExchange` returns, or `elfe exchange init` prints). */
export type ExchangeLayout = Pick<Exchange, 'root' | 'caDir' | 'hubDir' | 'hubConfigFile' | 'natsUrl' | 'metricsPort' | 'apiPort' | 'parties' | 'witness'>;

export interface ExchangeRunnerOptions {
  /** An exchange laid out already (e.g. by `provisionExchange` with its own hub configuration); else `elfe exchange init` in a new directory. */
  readonly layout?: ExchangeLayout;
  /** Name part of the new directory under the system's temporary directory. */
  readonly label?: string;
  /** With `elfe exchange init`: the hub's API and dashboard on a free port (and an auditor enrolled for it). */
  readonly api?: boolean;
  /** With `elfe exchange init`: changes the layout (e.g. what the CA has issued) before any party starts. */
  readonly beforeStart?: (layout: ExchangeLayout) => void | Promise<void>;
  /**
   * The parties started (and waited for) now, by name: `witness`, `hub`, an agency's or a
   * Standesamt's party name (`egs-11000000`, `sta-11007007`: its watch directory). Default:
   * all of them. The others can be started later with `start`.
   */
  readonly start?: readonly string[];
  /** Extra options for node in every party's process, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  /** Time allowed for each party to print its ready line (default 120 s). */
  readonly readyTimeoutMs?: number;
  /** Each line a party writes, with its name. */
  readonly log?: (name: string, line: string) => void;
  /** Start a party that ends on its own again (with the one back-off policy); given up after the policy's tries. */
  readonly restart?: RestartPolicy;
  /** Every party ends when this process ends, even by SIGKILL. */
  readonly exitWithParent?: boolean;
}

export interface RunningExchange extends ExchangeLayout {
  /** Every party that can run, by name, in start order. */
  readonly names: readonly string[];
  /** A party's process, once started. */
  process(name: string): PartyProcess | undefined;
  /** Starts a party (again, when it ended) and waits until it is ready; a running one is left as it is. */
  start(name: string): Promise<PartyProcess>;
  /** Kills a party with `signal` (default SIGKILL), starts it with the same command and waits until it is ready. */
  restart(name: string, signal?: NodeJS.Signals): Promise<PartyProcess>;
  /** The Standesamt's watch directory (created when missing). */
  watchDir(standesamt: string): string;
  /** An agency's inbox directory. */
  inboxDir(agency: string): string;
  /** Stops every party (SIGTERM, SIGKILL after 15 s), the last started first; settles when all ended, rejects with the failures collected. */
  stop(): Promise<void>;
  /** Settles when the restart policy gave a party up. */
  readonly failed: Promise<ChildGivenUp>;
}

/** The layout as `elfe exchange init` prints it. */
interface InitOutput {
  readonly root: string;
  readonly ca: string;
  readonly hub: string;
  readonly nats: string;
  readonly witness?: { url: string; verifierKey: string; config: string };
  readonly parties: readonly { name: string; role: Role; dvdv: string; config: string }[];
}

async function initExchange(options: ExchangeRunnerOptions): Promise<ExchangeLayout> {
  const root = mkdtempSync(path.join(os.tmpdir(), `elfe-${options.label ?? 'exchange'}-`));
  const metricsPort = await freePort();
  const apiPort = options.api ? await freePort() : undefined;
  const init = await runElfe(['exchange', 'init', '--data', root, '--nats-port', String(await freePort()), '--metrics-port', String(metricsPort), ...(apiPort ? ['--api-port', String(apiPort)] : [])], { timeoutMs: 120_000 });
  if (init.code !== 0) throw new Error(`elfe exchange init failed (exit ${init.code}):\n${init.stdout}\n${init.stderr}`);
  const out = JSON.parse(init.stdout) as InitOutput;
  const witness: LocalWitness | undefined = out.witness ? { dir: path.dirname(out.witness.config), configFile: out.witness.config, url: out.witness.url, port: Number(new URL(out.witness.url).port), verifierKey: out.witness.verifierKey } : undefined;
  const parties: ProvisionedParty[] = out.parties.map((p) => ({ name: p.name, role: p.role, dvdv: p.dvdv, displayName: p.name, dir: path.dirname(p.config), configFile: p.config }));
  return { root: out.root, caDir: out.ca, hubDir: path.dirname(out.hub), hubConfigFile: out.hub, natsUrl: out.nats, metricsPort, ...(apiPort !== undefined ? { apiPort } : {}), parties, ...(witness ? { witness } : {}) };
}

/** Lays out (or takes) an exchange and starts its parties; on a failed start, what started is stopped again. */
export async function runExchange(options: ExchangeRunnerOptions = {}): Promise<RunningExchange> {
  const layout = options.layout ?? (await initExchange(options));
  if (!options.layout) await options.beforeStart?.(layout);
  const specs = new Map(exchangeProcesses(layout).map((s) => [s.name, s.args]));
  const names = [...specs.keys()];
  const processes = new Map<string, PartyProcess>();
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const partyDir = (name: string) => path.join(layout.root, 'parties', name);
  let giveUp!: (given: ChildGivenUp) => void;
  const failed = new Promise<ChildGivenUp>((resolve) => (giveUp = resolve));
  const log = options.log;

  const start = async (name: string): Promise<PartyProcess> => {
    const args = specs.get(name);
    if (!args) throw new Error(`no party ${name} runs in this exchange (${names.join(', ')})`);
    let proc = processes.get(name);
    if (proc?.running) {
      await proc.ready(proc.readyPattern, readyTimeoutMs);
      return proc;
    }
    if (proc) proc.start();
    else {
      const party = layout.parties.find((p) => p.name === name);
      if (party?.role === 'standesamt') mkdirSync(path.join(party.dir, 'watch'), { recursive: true });
      if (party?.role === 'elterngeldstelle' || party?.role === 'familienkasse') mkdirSync(path.join(party.dir, 'inbox'), { recursive: true });
      proc = new PartyProcess(name, args, {
        ...(name === 'witness' ? { readyPattern: /^ready: witness /m } : {}),
        ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
        ...(log ? { onLine: (line: string) => log(name, line) } : {}),
        ...(options.restart ? { restart: options.restart } : {}),
        ...(options.exitWithParent ? { exitWithParent: true } : {}),
      });
      void proc.failed.then(giveUp);
      processes.set(name, proc);
    }
    await proc.ready(proc.readyPattern, readyTimeoutMs);
    return proc;
  };

  const stop = async (): Promise<void> => {
    const order = [...processes.values()].reverse();
    // The agencies and watchers together, then the hub, then the witness (it cosigns to the end).
    const outer = order.filter((p) => p.name !== 'hub' && p.name !== 'witness');
    const end = (p: PartyProcess) => p.kill('SIGTERM', 15_000);
    const results = [
      ...(await Promise.allSettled(outer.map(end))),
      ...(await Promise.allSettled(order.filter((p) => p.name === 'hub').map(end))),
      ...(await Promise.allSettled(order.filter((p) => p.name === 'witness').map(end))),
    ];
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failed.length > 0) throw new AggregateError(failed, `${failed.length} parties did not stop`);
  };

  const wanted = options.start ?? names;
  try {
    // The witness, then the hub (nobody retries against a NATS that is not there yet), then the rest together.
    for (const first of ['witness', 'hub'].filter((n) => wanted.includes(n))) await start(first);
    await Promise.all(wanted.filter((n) => n !== 'witness' && n !== 'hub').map(start));
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }

  return {
    ...layout,
    names,
    process: (name) => processes.get(name),
    start,
    async restart(name, signal = 'SIGKILL') {
      await processes.get(name)?.kill(signal);
      return start(name);
    },
    watchDir(standesamt) {
      const dir = path.join(partyDir(standesamt), 'watch');
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    inboxDir: (agency) => path.join(partyDir(agency), 'inbox'),
    stop,
    failed,
  };
}
