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
import {
  deterministicUuid,
  type DetachedSignature,
  encryptPayload,
  hubDerivedUuid,
  receivedHashOf,
  toBirthRegistered,
  type BirthRegistrationCorrected,
  type DeliveryAcknowledged,
  type DeliveryScheduled,
  type Receipt,
  type Signer,
  type Submission,
} from '../contracts/index.ts';
import { loadPartyConfig } from '../connectors/kit/partyConfig.ts';
import { certificateTrust } from '../connectors/kit/trust.ts';
import { caseCorrelationId, idNrAssignmentOf, withdrawalOf } from '../connectors/standesamt/src/messages.ts';
import type { Exchange } from '../hub/src/app/exchange.ts';
import { loadConfig } from '../hub/src/config/config.ts';
import { makeScenarios, type BirthScenario } from '../hub/src/demo/synthetic.ts';
import { CaseKeyStore, caseKeyFile } from '../hub/src/log/caseKeys.ts';
import { CaseLog } from '../hub/src/log/caseLog.ts';
import { openHubLog } from '../hub/src/log/openHubLog.ts';
import { preparePrivateDatabaseFile } from '../hub/src/log/privateFiles.ts';
import { hubProducer, toRecord } from '../hub/src/log/records.ts';
import { SignatureKeeper, type KeptSignature } from '../hub/src/log/signatures.ts';
import { deliveryStream } from '../hub/src/log/streams.ts';
import { startReadSide } from '../hub/src/readside/readSide.ts';
import { decide, evolve, initialState, isDecision, type CaseState, type DeliveryDecision } from '../hub/src/routing/birthCase.ts';
import { recipientDirectory, type RecipientKey } from '../hub/src/trust/recipients.ts';

export interface History {
  /** Entries in the log. */
  readonly entries: number;
  readonly births: number;
  readonly deliveries: number;
  /** Seconds spent appending (submissions, routing, receipts, checkpoints). */
  readonly logSeconds: number;
  /** Seconds the read side took to project the log. */
  readonly projectSeconds: number;
}

export interface HistoryOptions {
  /** Entries to reach (the last cases in flight may add a few more). */
  readonly entries: number;
  readonly seed?: number;
  /** Birth cases worked on at once (default 512). */
  readonly inFlight?: number;
  /** Progress, every few seconds. */
  readonly say?: (line: string) => void;
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
  override close(): void {
    for (const [caseId, at] of this.#handOffs) super.handedOff(caseId, at);
    super.close();
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

/**
 * The `DeliveryScheduled` the hub's scheduler appends for a decision: a copy of scheduler.ts's
 * (not exported there); to be imported from it once it is.
 */
function scheduledEvent(decision: DeliveryDecision, correlationId: string, decidedAt: string, payloadJwe: string): DeliveryScheduled {
  return {
    messageId: decision.deliveryId,
    type: 'DeliveryScheduled',
    schemaVersion: 1,
    occurredAt: decidedAt,
    producer: hubProducer as unknown as DeliveryScheduled['producer'],
    legalBasis: decision.legalBasis,
    purpose: decision.purpose,
    correlationId,
    causationId: decision.causationId,
    data: { deliveryId: decision.deliveryId, registerKey: decision.payload.registerKey, recipient: decision.recipient, kind: decision.kind, legalBasis: decision.legalBasis, purpose: decision.purpose, payloadJwe, payloadHash: decision.payloadHash },
  };
}

/** Writes the history into the exchange's (stopped) hub data directory. */
export async function buildHistory(exchange: Exchange, options: HistoryOptions): Promise<History> {
  const seed = options.seed ?? 4711;
  const say = options.say ?? (() => undefined);
  const config = loadConfig(exchange.hubConfigFile);
  const dataDir = config.dataDir;
  const signers = new Map<string, Signer>();
  for (const p of exchange.parties) {
    const c = loadPartyConfig(p.configFile);
    signers.set(p.dvdv, certificateTrust({ dir: c.dir, caCertFile: c.trust.caCertFile, crlFile: c.trust.crlFile }).signer);
  }
  const melde = signers.get(exchange.parties.find((p) => p.role === 'meldebehoerde')!.dvdv)!;
  const hub = certificateTrust({ dir: dataDir, caCertFile: config.trust.caCertFile, crlFile: config.trust.crlFile, issuedDir: config.trust.issuedDir });
  // Each recipient's key as the directory gives it, looked up once: the directory stats the CA's
  // files and parses the holder's certificate on every call, and nothing changes during the build.
  const directory = recipientDirectory({ caFiles: hub.caFiles });
  const recipientKeys = new Map<string, RecipientKey>();
  const recipients = (dvdv: string): RecipientKey => {
    const known = recipientKeys.get(dvdv);
    if (known) return known;
    const key = directory(dvdv);
    recipientKeys.set(dvdv, key);
    return key;
  };
  const scratch = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'elfe-bench-keys-'));
  const keyFile = path.join(scratch, 'cases.sqlite');
  const log = await openHubLog({ dataDir, checkpoint: config.log.checkpoint, origin: config.log.origin });
  let births = 0;
  let deliveries = 0;
  const t0 = performance.now();
  let shown = t0;
  const progress = () => {
    if (performance.now() - shown < 5000) return;
    shown = performance.now();
    const s = (shown - t0) / 1000;
    say(`history: ${log.treeSize.toLocaleString('en-US')} of ${options.entries.toLocaleString('en-US')} entries, ${births.toLocaleString('en-US')} births (${Math.round(log.treeSize / s).toLocaleString('en-US')} entries/s)`);
  };

  async function birthCase(s: BirthScenario, chunk: number, cases: CaseLog, keep: (signature: DetachedSignature) => Promise<KeptSignature>): Promise<void> {
    const key = s.registration.registerKey;
    const stream = cases.caseStream(key);
    const standesamt = signers.get(`psw:${s.standesamt.standesamtsnummer}`)!;
    const id = (what: string) => deterministicUuid('bench-history', String(seed), String(chunk), String(s.index), what);
    const now = () => new Date().toISOString();
    const producer = (signer: Signer) => ({ dvdv: signer.identity.dvdv as never, name: signer.identity.name, role: signer.identity.role });
    const idnr = (): [Signer, Submission] => [melde, idNrAssignmentOf(melde.identity, { registerKey: key, childIdNr: s.childIdNr, parent1IdNr: s.parent1IdNr }, { messageId: id('idnr') })];
    // In the order the demo submits them: registration, early IdNrs, withdrawal, correction, late IdNrs.
    const submissions: [Signer, Submission][] = [[standesamt, toBirthRegistered(s.registration, { messageId: id('registered'), occurredAt: now(), producer: producer(standesamt), correlationId: caseCorrelationId(key) })]];
    if (s.idnr === 'early') submissions.push(idnr());
    if (s.withdrawal) submissions.push([standesamt, withdrawalOf(standesamt.identity, key, now(), { messageId: id('withdrawal') })]);
    if (s.correction) {
      const correction: BirthRegistrationCorrected = {
        messageId: id('correction'),
        type: 'BirthRegistrationCorrected',
        schemaVersion: 1,
        occurredAt: now(),
        producer: producer(standesamt),
        legalBasis: '§ 21 PStG; § 47 PStG; § 57 Abs. 1 Nr. 8 PStV',
        purpose: 'Mitteilung einer Berichtigung an die bisherigen Empfänger',
        correlationId: caseCorrelationId(key),
        data: { registerKey: key, registration: s.correction, reason: 'Berichtigung des Vornamens (§ 47 PStG)' },
      };
      submissions.push([standesamt, correction]);
    }
    if (s.idnr === 'late') submissions.push(idnr());

    let state: CaseState = initialState;
    const scheduled: DeliveryScheduled[] = [];
    for (const [signer, event] of submissions) {
      // As the ingress keeps a submission: the signed payload, the signature, the certificate by fingerprint.
      const signature = signer.sign(event);
      const kept = await keep(signature);
      await cases.append(stream, [toRecord(event, { signerKeyId: signer.identity.keyId, signerDvdv: signer.identity.dvdv, receivedAt: now(), signed: { signature: { ...kept } } })], event.type === 'BirthRegistered' ? 'no-stream' : 'any');
      // As the scheduler routes it.
      const decisions = decide(state, event, config.routing);
      state = evolve(state, event);
      const decided: DeliveryScheduled[] = [];
      for (const d of decisions) {
        if (!isDecision(d)) continue;
        const target = recipients(d.recipient.dvdv);
        if ('reason' in target) throw new Error(`history: no certificate to encrypt to for ${d.recipient.dvdv}: ${target.reason}`);
        decided.push(scheduledEvent(d, event.correlationId, now(), await encryptPayload(d.payload, target.key, d.deliveryId)));
      }
      if (decided.length === 0) continue;
      await cases.append(stream, decided.map((e) => toRecord(e)));
      for (const e of decided) state = evolve(state, e);
      scheduled.push(...decided);
    }
    // As the receipt processor logs each agency's signed acknowledgement.
    await Promise.all(
      scheduled.map(async (d) => {
        const receipt = { deliveryId: d.data.deliveryId, recipient: d.data.recipient.dvdv, status: 'acknowledged', receivedHash: receivedHashOf(d.data)!, receivedAt: now() } satisfies Receipt;
        const signature = signers.get(receipt.recipient)!.sign(receipt);
        const kept = await keep(signature);
        const answer: DeliveryAcknowledged = {
          messageId: hubDerivedUuid('receipt', receipt.deliveryId),
          type: 'DeliveryAcknowledged',
          schemaVersion: 1,
          occurredAt: now(),
          producer: hubProducer as unknown as DeliveryAcknowledged['producer'],
          legalBasis: 'Art. 5 Abs. 2 DSGVO (Rechenschaftspflicht)',
          purpose: 'Record of a hand-off to a benefit agency',
          correlationId: d.correlationId,
          causationId: d.correlationId,
          data: { deliveryId: receipt.deliveryId, recipient: receipt.recipient, receivedHash: receipt.receivedHash, receivedAt: receipt.receivedAt },
        };
        await cases.append(deliveryStream(receipt.deliveryId), [toRecord(answer, { signerKeyId: signature.keyId, hubReceivedAt: now(), signed: { payload: { ...receipt }, signature: { ...kept } } })]);
      }),
    );
    births++;
    deliveries += scheduled.length;
    progress();
  }

  try {
    // About six entries a birth; no more scenarios made than needed.
    const perChunk = Math.min(chunkBirths, Math.ceil(options.entries / 5));
    for (let chunk = 0; log.treeSize < options.entries; chunk++) {
      const scenarios = makeScenarios({ births: perChunk, seed: seed + chunk, standesaemter: config.standesaemter, firstEntry: 1 + chunk * chunkBirths });
      // Fresh wrappers per chunk: their caches (case keys, delivery → case) end with it.
      const keys = new BatchedKeyStore(keyFile);
      const cases = new CaseLog(log, keys);
      const keep = keeper(new SignatureKeeper(cases));
      let next = 0;
      await Promise.all(
        Array.from({ length: options.inFlight ?? 512 }, async () => {
          while (next < scenarios.length && log.treeSize < options.entries) await birthCase(scenarios[next++]!, chunk, cases, keep);
        }),
      );
      keys.close();
    }
    await log.checkpointNow();
    const logSeconds = (performance.now() - t0) / 1000;
    const entries = await log.size();
    say(`history: ${entries.toLocaleString('en-US')} entries, ${births.toLocaleString('en-US')} births in ${logSeconds.toFixed(1)} s; projecting the read side`);
    const p0 = performance.now();
    const keys = new CaseKeyStore(keyFile);
    const readSide = await startReadSide({ log: new CaseLog(log, keys), dir: path.join(dataDir, 'readside'), escalation: config.escalation });
    await readSide.caughtUp(entries, 3_600_000);
    await readSide.stop();
    keys.close();
    const projectSeconds = (performance.now() - p0) / 1000;
    // Everything up to here was routed, published and acknowledged (above) before the restart.
    for (const component of ['scheduler', 'relay']) writeFileSync(path.join(dataDir, `${component}.position`), String(entries), { mode: 0o600 });
    await log.close();
    preparePrivateDatabaseFile(caseKeyFile(dataDir));
    copyFileSync(keyFile, caseKeyFile(dataDir));
    return { entries, births, deliveries, logSeconds, projectSeconds };
  } finally {
    await log.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}
