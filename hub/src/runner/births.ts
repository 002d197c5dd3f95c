// Births offered to a running exchange from this process, for the tests and the bench: each
// Standesamt of the exchange submits through its own durable outbox with its own key, at a
// rate or all at once; afterwards the hub's log (opened with its case keys) says when each
// birth's last delivery was acknowledged.
import { BirthRegisteredDataSchema, deterministicUuid, type BirthRegistered } from '../../../contracts/index.ts';
import { loadPartyConfig } from '../../../connectors/kit/partyConfig.ts';
import { openSubmitter, type Submitter } from '../../../connectors/standesamt/src/main.ts';
import type { ProvisionedParty } from '../app/exchange.ts';
import { parseConfig } from '../config/config.ts';
import { openCaseLog } from '../log/caseLog.ts';
import type { EventStore } from '../log/eventStore.ts';
import { fromRecord } from '../log/records.ts';
import { makeScenarios } from '../demo/synthetic.ts';

/** The exchange's Standesämter as submitters, by DVDV address. */
export async function openSubmitters(parties: readonly ProvisionedParty[], options: { concurrency?: number; timeoutMs?: number } = {}): Promise<Map<string, Submitter>> {
  const submitters = new Map<string, Submitter>();
  for (const p of parties.filter((p) => p.role === 'standesamt')) {
    submitters.set(p.dvdv, await openSubmitter(loadPartyConfig(p.configFile), () => undefined, { concurrency: options.concurrency ?? 64, ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) }));
  }
  return submitters;
}

export interface BurstOptions {
  readonly births: number;
  readonly seed: number;
  /** Births per second; Infinity (default): all at once. */
  readonly rate?: number;
  /** Names the message ids (with the seed and the birth's index), so runs do not collide. */
  readonly label: string;
  /** The events' `purpose`. */
  readonly purpose: string;
  /** First register entry number of the synthetic births. */
  readonly firstEntry?: number;
}

export interface Burst {
  /** Deliveries the births cause (the Familienkasse always, the Elterngeldstelle with consent). */
  readonly deliveries: number;
  /** When each birth was handed to its Standesamt's outbox, by message id. */
  readonly sentAt: Map<string, number>;
}

/**
 * Submits registrations with IdNrs (both agencies receive when consent allows) through the
 * Standesämter's durable outboxes; returns once all are handed over (not acknowledged).
 */
export async function submitBurst(submitters: ReadonlyMap<string, Submitter>, options: BurstOptions): Promise<Burst> {
  const rate = options.rate ?? Number.POSITIVE_INFINITY;
  const scenarios = makeScenarios({ births: options.births, seed: options.seed, standesaemter: parseConfig({}).standesaemter, ...(options.firstEntry !== undefined ? { firstEntry: options.firstEntry } : {}) });
  const sentAt = new Map<string, number>();
  const t0 = Date.now();
  for (let i = 0; i < scenarios.length; i++) {
    const s = scenarios[i]!;
    if (Number.isFinite(rate)) {
      const due = t0 + (i / rate) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    }
    const registration = BirthRegisteredDataSchema.parse({ ...s.registration, child: { ...s.registration.child, idnr: s.childIdNr }, parent1: { ...s.registration.parent1, idnr: s.parent1IdNr } });
    const messageId = deterministicUuid(options.label, String(options.seed), String(i));
    const submitter = submitters.get(`psw:${s.standesamt.standesamtsnummer}`);
    if (!submitter) throw new Error(`no Standesamt psw:${s.standesamt.standesamtsnummer} among the submitters`);
    const event: BirthRegistered = {
      messageId,
      type: 'BirthRegistered',
      schemaVersion: 1,
      occurredAt: new Date().toISOString(),
      producer: { dvdv: submitter.trust.identity.dvdv as never, name: submitter.trust.identity.name, role: 'standesamt' },
      legalBasis: '§ 21 PStG',
      purpose: options.purpose,
      correlationId: messageId,
      data: registration,
    };
    sentAt.set(messageId, Date.now());
    // Kept in the durable outbox: a refused submission shows as a missing acknowledgement.
    void submitter.connector.submit(event).catch(() => undefined);
  }
  return { deliveries: scenarios.reduce((n, s) => n + 1 + (s.registration.consent.elterngeldstelle ? 1 : 0), 0), sentAt };
}

export interface BirthLatencies {
  /** When the last birth's last receipt was logged (ms since the epoch; 0 when none was). */
  readonly lastDoneAt: number;
  /** Per birth of `sentAt` whose deliveries were all acknowledged: submission until the last receipt was logged (ms). */
  readonly done: number[];
  /** Acknowledged deliveries in the log. */
  readonly acknowledged: number;
  /**
   * Where the time of the births of `sentAt` went, in ms, hop by hop: `ingress` (per birth) from
   * the submission until its registration was logged; per delivery `routing` until the hand-off
   * was logged, `toAgency` until the agency received it (its receipt's `receivedAt`, the agency's
   * clock), `receiptBack` until the hub logged the receipt.
   */
  readonly stages: { readonly ingress: number[]; readonly routing: number[]; readonly toAgency: number[]; readonly receiptBack: number[] };
}

/**
 * Reads the hub's log (closed afterwards) through the hub's case keys, as the hub reads it: a
 * birth case's entries are sealed in the store, and read raw they say nothing.
 */
export async function birthLatencies(raw: EventStore, hubDir: string, sentAt: ReadonlyMap<string, number>): Promise<BirthLatencies> {
  const store = openCaseLog(raw, hubDir);
  const causeOf = new Map<string, string>();
  const open = new Map<string, number>();
  const registeredAt = new Map<string, number>();
  const scheduledAt = new Map<string, number>();
  const done: number[] = [];
  const stages = { ingress: [] as number[], routing: [] as number[], toAgency: [] as number[], receiptBack: [] as number[] };
  let acknowledged = 0;
  let lastDoneAt = 0;
  try {
    for await (const stored of store.readAll()) {
      const event = fromRecord(stored);
      const at = Date.parse(stored.recordedAt);
      if (event?.type === 'BirthRegistered' && sentAt.has(event.messageId)) {
        registeredAt.set(event.messageId, at);
        stages.ingress.push(at - sentAt.get(event.messageId)!);
      } else if (event?.type === 'DeliveryScheduled') {
        const cause = event.causationId ?? '';
        causeOf.set(event.data.deliveryId, cause);
        open.set(cause, (open.get(cause) ?? 0) + 1);
        if (registeredAt.has(cause)) {
          scheduledAt.set(event.data.deliveryId, at);
          stages.routing.push(at - registeredAt.get(cause)!);
        }
      } else if (event?.type === 'DeliveryAcknowledged') {
        acknowledged++;
        const cause = causeOf.get(event.data.deliveryId) ?? '';
        const scheduled = scheduledAt.get(event.data.deliveryId);
        if (scheduled !== undefined) {
          const received = Date.parse(event.data.receivedAt);
          stages.toAgency.push(received - scheduled);
          stages.receiptBack.push(at - received);
        }
        const left = (open.get(cause) ?? 1) - 1;
        open.set(cause, left);
        if (left === 0 && sentAt.has(cause)) {
          done.push(at - sentAt.get(cause)!);
          lastDoneAt = Math.max(lastDoneAt, at);
        }
      }
    }
  } finally {
    await store.close();
  }
  return { done, acknowledged, lastDoneAt, stages };
}
