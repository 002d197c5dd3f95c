// The parties' side of a generated history (bench/history.ts): what the Standesämter and the
// Meldebehörde sign, what the hub's scheduler decides and encrypts, and what the agencies
// sign as receipts, for one birth at a time. It runs in worker threads (historyWorker.ts), one
// per core, so that the signing and encryption of many births proceed beside the log's appends
// on the main thread; everything it returns is appended there, in the order given.
import {
  deterministicUuid,
  type DetachedSignature,
  encryptPayload,
  encryptReason,
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
import { loadConfig } from '../hub/src/config/config.ts';
import type { BirthScenario } from '../hub/src/demo/synthetic.ts';
import { hubProducer } from '../hub/src/log/records.ts';
import { decide, evolve, initialState, isDecision, type CaseState } from '../hub/src/routing/birthCase.ts';
import { scheduledEvent } from '../hub/src/scheduler/scheduler.ts';
import { recipientDirectory, type RecipientKey } from '../hub/src/trust/recipients.ts';

/** What a worker needs to act as every party of the exchange: file names only. */
export interface PartiesSetup {
  readonly hubConfigFile: string;
  readonly parties: readonly { readonly dvdv: string; readonly role: string; readonly configFile: string }[];
  readonly seed: number;
  /** Births per chunk of scenarios (the register entry numbers of chunk c start at 1 + c × this). */
  readonly chunkBirths: number;
}

/** An agency's receipt that acknowledges a delivery (no optional fields). */
export type AcknowledgedReceipt = Pick<Receipt, 'deliveryId' | 'recipient' | 'receivedHash' | 'receivedAt'> & { readonly status: 'acknowledged' };

/** One step of a birth case, appended by the main thread in the order of `BirthPlan.steps`. */
export type HistoryStep =
  /** A submission as the ingress keeps it: the event, its signature and who signed it. */
  | { readonly kind: 'submission'; readonly event: Submission; readonly signature: DetachedSignature; readonly signerKeyId: string; readonly signerDvdv: string; readonly receivedAt: string }
  /** What the scheduler appends for the submission before it. */
  | { readonly kind: 'scheduled'; readonly events: readonly DeliveryScheduled[] }
  /** An agency's signed acknowledgement of one delivery, as the receipt processor logs it. */
  | { readonly kind: 'receipt'; readonly answer: DeliveryAcknowledged; readonly receipt: AcknowledgedReceipt; readonly signature: DetachedSignature; readonly hubReceivedAt: string };

export interface BirthPlan {
  readonly registerKey: BirthScenario['registration']['registerKey'];
  readonly steps: readonly HistoryStep[];
  readonly deliveries: number;
  /** Milliseconds this birth's signatures and encryptions took (the history's crypto floor). */
  readonly cryptoMs: number;
}

/** The parties of `setup`, ready to plan births: keys and certificates read once. */
export function historyParties(setup: PartiesSetup): (s: BirthScenario, chunk: number) => Promise<BirthPlan> {
  const config = loadConfig(setup.hubConfigFile);
  const signers = new Map<string, Signer>();
  for (const p of setup.parties) {
    const c = loadPartyConfig(p.configFile);
    signers.set(p.dvdv, certificateTrust({ dir: c.dir, caCertFile: c.trust.caCertFile, crlFile: c.trust.crlFile }).signer);
  }
  const melde = signers.get(setup.parties.find((p) => p.role === 'meldebehoerde')!.dvdv)!;
  const hub = certificateTrust({ dir: config.dataDir, caCertFile: config.trust.caCertFile, crlFile: config.trust.crlFile, issuedDir: config.trust.issuedDir });
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
  const now = () => new Date().toISOString();
  const producer = (signer: Signer) => ({ dvdv: signer.identity.dvdv as never, name: signer.identity.name, role: signer.identity.role });

  return async (s, chunk) => {
    let cryptoMs = 0;
    const timed = async <T>(work: () => T | Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const result = await work();
      cryptoMs += performance.now() - t0;
      return result;
    };
    const key = s.registration.registerKey;
    const standesamt = signers.get(`psw:${s.standesamt.standesamtsnummer}`)!;
    const id = (what: string) => deterministicUuid('bench-history', String(setup.seed), String(chunk), String(s.index), what);
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

    const steps: HistoryStep[] = [];
    let state: CaseState = initialState;
    const scheduled: DeliveryScheduled[] = [];
    for (const [signer, event] of submissions) {
      steps.push({ kind: 'submission', event, signature: await timed(() => signer.sign(event)), signerKeyId: signer.identity.keyId, signerDvdv: signer.identity.dvdv, receivedAt: now() });
      // As the scheduler routes it: the payload, and a correction's reason, encrypted for the recipient.
      const decisions = decide(state, event, config.routing);
      state = evolve(state, event);
      const decided: DeliveryScheduled[] = [];
      for (const d of decisions) {
        if (!isDecision(d)) continue;
        const target = recipients(d.recipient.dvdv);
        if ('reason' in target) throw new Error(`history: no certificate to encrypt to for ${d.recipient.dvdv}: ${target.reason}`);
        const payloadJwe = await timed(() => encryptPayload(d.payload, target.key, d.deliveryId));
        const correction = d.correction;
        const reasonJwe = correction ? await timed(() => encryptReason(correction.reason, target.key, d.deliveryId)) : undefined;
        decided.push(scheduledEvent(d, event.correlationId, now(), payloadJwe, reasonJwe));
      }
      if (decided.length === 0) continue;
      steps.push({ kind: 'scheduled', events: decided });
      for (const e of decided) state = evolve(state, e);
      scheduled.push(...decided);
    }
    // As each agency acknowledges its delivery and the receipt processor logs it.
    for (const d of scheduled) {
      const receipt = { deliveryId: d.data.deliveryId, recipient: d.data.recipient.dvdv, status: 'acknowledged', receivedHash: receivedHashOf(d.data)!, receivedAt: now() } satisfies AcknowledgedReceipt;
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
      steps.push({ kind: 'receipt', answer, receipt, signature: await timed(() => signers.get(receipt.recipient)!.sign(receipt)), hubReceivedAt: now() });
    }
    return { registerKey: key, steps, deliveries: scheduled.length, cryptoMs };
  };
}
