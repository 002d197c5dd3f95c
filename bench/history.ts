// A hub's history for the restart probe, generated fast by the hub's own code paths: the
// exchange's parties sign every submission and receipt with their own keys, the log is the
// hub's (openHubLog, the case log's per-case keys, checkpoints by its policy), each birth is
// routed by the real decider and its payloads encrypted to the recipients' certificates, every
// delivery gets its agency's signed acknowledgement, and the read side projects it all. What
// the hub's components would do one entry at a time is done here for many cases at once, so
// the log's group commit writes hundreds of entries per fsync. Afterwards the scheduler's and
// the relay's positions say everything was routed and published, as in a hub that ran for a while.
//
// The case key store commits (rollback journal, fsync) once per new case and per hand-off, on
// the event loop; it is built on a memory file system and copied into place at the end, so
// the build's rate is that of the log, not of that store's fsyncs.
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DetachedSignature } from '../contracts/index.ts';
import type { Exchange } from '../hub/src/app/exchange.ts';
import { loadConfig } from '../hub/src/config/config.ts';
import { CaseKeyStore, caseKeyFile } from '../hub/src/log/caseKeys.ts';
import { CaseLog } from '../hub/src/log/caseLog.ts';
import { openHubLog } from '../hub/src/log/openHubLog.ts';
import { preparePrivateDatabaseFile } from '../hub/src/log/privateFiles.ts';
import { toRecord } from '../hub/src/log/records.ts';
import { SignatureKeeper, type KeptSignature } from '../hub/src/log/signatures.ts';
import { deliveryStream } from '../hub/src/log/streams.ts';
import { startReadSide } from '../hub/src/readside/readSide.ts';
import { trackingKey } from '../hub/src/tracking/trackingCode.ts';
import type { BirthPlan, PartiesSetup } from './historyParties.ts';

export interface History {
  /** Entries in the log. */
  readonly entries: number;
  readonly births: number;
  readonly deliveries: number;
  /** Seconds spent appending (submissions, routing, receipts, checkpoints). */
  readonly logSeconds: number;
  /** Seconds the read side took to project the log. */
  readonly projectSeconds: number;
  /** Milliseconds of the workers' signatures and encryptions, summed (the history's crypto floor). */
  readonly cryptoMs: number;
  /** Milliseconds the main thread was busy appending (its event loop's active time while building). */
  readonly appendMs: number;
}

export interface HistoryOptions {
  /** Entries to reach (the last cases in flight may add a few more). */
  readonly entries: number;
  readonly seed?: number;
  /** Birth cases worked on at once (default 512). */
  readonly inFlight?: number;
  /** Progress, every few seconds. */
  readonly say?: (line: string) => void;
  /** Worker threads that sign and encrypt (default: one fewer than the cores, the main thread appends; at least one). */
  readonly workers?: number;
}

/** Births generated (and their keys cached) at a time; memory stays flat however long the history. */
const chunkBirths = 20_000;

/**
 * The case key store, with the hand-offs of a chunk's cases recorded once per case at its end
 * (the last one is what the store keeps); everything else as the hub does it.
 */
class BatchedKeyStore extends CaseKeyStore {
  readonly #handOffs = new Map<string, Date>();
  override handedOff(caseId: string, at: Date): void {
    this.#handOffs.set(caseId, at);
  }
  override close(): Promise<void> {
    for (const [caseId, at] of this.#handOffs) super.handedOff(caseId, at);
    return super.close();
  }
}

/**
 * The hub's signature keeper, which logs each certificate once; its fingerprint is then
 * remembered by certificate rather than parsed again from the PEM for every signature.
 */
function keeper(signatures: SignatureKeeper): (signature: DetachedSignature) => Promise<KeptSignature> {
  // The first keeping of a certificate, shared by the cases in flight that carry it meanwhile.
  const first = new Map<string, Promise<KeptSignature>>();
  return async (signature) => {
    if (signature.certificate === undefined) return signatures.keep(signature);
    let kept = first.get(signature.certificate);
    if (!kept) {
      kept = signatures.keep(signature);
      first.set(signature.certificate, kept);
    }
    const { certificate } = await kept;
    return { alg: signature.alg, keyId: signature.keyId, value: signature.value, ...(certificate === undefined ? {} : { certificate }) };
  };
}

/** Births sent to a worker at a time. */
const planBatch = 32;

/**
 * The parties' work in worker threads (historyWorker.ts): each is asked for batches of the
 * chunk's births and answers with them planned, signed and encrypted. With as many workers as
 * cores the main thread, whose appends set the pace, lost its core to them and the build got
 * slower (1,900 against 3,100 entries/s at 20k on two cores); hence one fewer. The workers load the
 * TypeScript sources through tsx, as the benchmark itself does.
 */
class PartyPool {
  readonly #workers: Worker[];
  readonly #waiting = new Map<number, { resolve: (plans: BirthPlan[]) => void; reject: (error: Error) => void }>();
  #id = 0;

  constructor(setup: PartiesSetup, size: number) {
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./historyWorker.ts', import.meta.url).href;
    const boot = `(async () => { const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(entry)}); })()`;
    this.#workers = Array.from({ length: size }, () => {
      const worker = new Worker(boot, { eval: true, workerData: setup });
      worker.on('message', (answer: { id: number; plans?: BirthPlan[]; error?: string }) => {
        const waiting = this.#waiting.get(answer.id);
        this.#waiting.delete(answer.id);
        if (answer.plans) waiting?.resolve(answer.plans);
        else waiting?.reject(new Error(`history: a worker failed: ${answer.error}`));
      });
      worker.on('error', (error) => this.#failAll(error));
      return worker;
    });
  }

  get size(): number {
    return this.#workers.length;
  }

  #failAll(error: Error): void {
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
  }

  /** The births `from` to `to` (exclusive) of the chunk's `births` scenarios, planned. */
  plan(chunk: number, births: number, from: number, to: number): Promise<BirthPlan[]> {
    const id = this.#id++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#workers[id % this.#workers.length]!.postMessage({ id, chunk, births, from, to });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

/**
 * The chunk's births as the workers plan them, for many consumers at once: a few batches per
 * worker are asked for ahead, so the workers stay busy while the main thread appends.
 */
function plansOf(pool: PartyPool, chunk: number, births: number): () => Promise<BirthPlan | undefined> {
  const asked: Promise<BirthPlan[]>[] = [];
  const ready: BirthPlan[] = [];
  let at = 0;
  const askAhead = () => {
    while (asked.length < pool.size * 3 && at < births) {
      const planned = pool.plan(chunk, births, at, Math.min(births, (at += planBatch)));
      // Awaited in turn below; a failure before then must not count as unhandled.
      planned.catch(() => undefined);
      asked.push(planned);
    }
  };
  return async () => {
    for (;;) {
      const plan = ready.pop();
      if (plan) return plan;
      askAhead();
      const next = asked.shift();
      if (!next) return undefined;
      ready.push(...(await next));
      askAhead();
    }
  };
}

/** Writes the history into the exchange's (stopped) hub data directory. */
export async function buildHistory(exchange: Exchange, options: HistoryOptions): Promise<History> {
  const seed = options.seed ?? 4711;
  const say = options.say ?? (() => undefined);
  const config = loadConfig(exchange.hubConfigFile);
  const dataDir = config.dataDir;
  const pool = new PartyPool({ hubConfigFile: exchange.hubConfigFile, parties: exchange.parties.map((p) => ({ dvdv: p.dvdv, role: p.role, configFile: p.configFile })), seed, chunkBirths }, options.workers ?? Math.max(1, os.availableParallelism() - 1));
  const scratch = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'elfe-bench-keys-'));
  const keyFile = path.join(scratch, 'cases.sqlite');
  const log = await openHubLog({ dataDir, checkpoint: config.log.checkpoint, origin: config.log.origin });
  let births = 0;
  let deliveries = 0;
  let cryptoMs = 0;
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let shown = t0;
  const progress = () => {
    if (performance.now() - shown < 5000) return;
    shown = performance.now();
    const s = (shown - t0) / 1000;
    say(`history: ${log.treeSize.toLocaleString('en-US')} of ${options.entries.toLocaleString('en-US')} entries, ${births.toLocaleString('en-US')} births (${Math.round(log.treeSize / s).toLocaleString('en-US')} entries/s)`);
  };

  /** A planned birth appended as the hub's components would: submissions, their routing, then the receipts. */
  async function appendBirth(plan: BirthPlan, cases: CaseLog, keep: (signature: DetachedSignature) => Promise<KeptSignature>): Promise<void> {
    const stream = cases.caseStream(plan.registerKey);
    const receipts: Extract<BirthPlan['steps'][number], { kind: 'receipt' }>[] = [];
    for (const step of plan.steps) {
      if (step.kind === 'submission') {
        // As the ingress keeps a submission: the signed payload, the signature, the certificate by fingerprint.
        const kept = await keep(step.signature);
        const record = toRecord(step.event, { signerKeyId: step.signerKeyId, signerDvdv: step.signerDvdv, receivedAt: step.receivedAt, signed: { signature: { ...kept } } });
        await cases.append(stream, [record], step.event.type === 'BirthRegistered' ? 'no-stream' : 'any');
      } else if (step.kind === 'scheduled') {
        await cases.append(stream, step.events.map((e) => toRecord(e)));
      } else {
        receipts.push(step);
      }
    }
    await Promise.all(
      receipts.map(async (r) => {
        const kept = await keep(r.signature);
        await cases.append(deliveryStream(r.receipt.deliveryId), [toRecord(r.answer, { signerKeyId: r.signature.keyId, hubReceivedAt: r.hubReceivedAt, signed: { payload: { ...r.receipt }, signature: { ...kept } } })]);
      }),
    );
    births++;
    deliveries += plan.deliveries;
    cryptoMs += plan.cryptoMs;
    progress();
  }

  try {
    // About six entries a birth; no more scenarios made than needed.
    const perChunk = Math.min(chunkBirths, Math.ceil(options.entries / 5));
    for (let chunk = 0; log.treeSize < options.entries; chunk++) {
      // Fresh wrappers per chunk: their caches (case keys, delivery → case) end with it.
      const keys = new BatchedKeyStore(keyFile);
      const cases = new CaseLog(log, keys);
      const keep = keeper(new SignatureKeeper(cases));
      const nextPlan = plansOf(pool, chunk, perChunk);
      await Promise.all(
        Array.from({ length: options.inFlight ?? 512 }, async () => {
          while (log.treeSize < options.entries) {
            const plan = await nextPlan();
            if (!plan) return;
            await appendBirth(plan, cases, keep);
          }
        }),
      );
      await keys.close();
    }
    await pool.close();
    await log.checkpointNow();
    const logSeconds = (performance.now() - t0) / 1000;
    const appendMs = performance.eventLoopUtilization(elu0).active;
    const entries = await log.size();
    say(`history: ${entries.toLocaleString('en-US')} entries, ${births.toLocaleString('en-US')} births in ${logSeconds.toFixed(1)} s; projecting the read side`);
    const p0 = performance.now();
    const keys = new CaseKeyStore(keyFile);
    // As the hub opens it (readSideServices.ts), with the tracking codes' key: a read side projected
    // without it is projected again, from the first entry, by the hub's first start.
    const readSide = await startReadSide({ log: new CaseLog(log, keys), dir: path.join(dataDir, 'readside'), escalation: config.escalation, trackingKey: trackingKey(dataDir) });
    await readSide.caughtUp(entries, 3_600_000);
    await readSide.stop();
    await keys.close();
    const projectSeconds = (performance.now() - p0) / 1000;
    // Everything up to here was routed, published and acknowledged (above) before the restart.
    for (const component of ['scheduler', 'relay']) writeFileSync(path.join(dataDir, `${component}.position`), String(entries), { mode: 0o600 });
    await log.close();
    preparePrivateDatabaseFile(caseKeyFile(dataDir));
    copyFileSync(keyFile, caseKeyFile(dataDir));
    return { entries, births, deliveries, logSeconds, projectSeconds, cryptoMs, appendMs };
  } finally {
    await pool.close();
    await log.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}
