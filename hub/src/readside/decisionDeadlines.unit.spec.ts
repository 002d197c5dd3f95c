// Escalation deadlines that refer to the agencies' milestones: no decision (bewilligt,
// abgelehnt; ausgezahlt implies one) N days after the agency acknowledged the hand-off makes
// the hand-off overdue, later escalated, per agency kind. Recorded in the log once (hub-derived
// ids), counted in the read side's states and counts. The clock is injected: no sleeping for days.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hubDerivedUuid, receivedHashOf, type DeliveryAcknowledged, type DeliveryScheduled, type HandOffMilestone, type MilestoneStatus } from '../../../contracts/index.ts';
import { sampleBirthRegistration } from '../../../contracts/src/testing/sampleBirth.ts';
import { collect } from '../log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../log/memory/memoryEventStore.ts';
import { fromRecord, hubProducer, toRecord } from '../log/records.ts';
import { deliveryStream } from '../log/streams.ts';
import { childIdNr, registered, testRoutingTable } from '../routing/testing.ts';
import { startScheduler } from '../scheduler/scheduler.ts';
import { startReadSide } from './readSide.ts';

const day = 24 * 60 * 60 * 1000;
const envelope = (messageId: string, correlationId: string) => ({
  messageId,
  schemaVersion: 1 as const,
  occurredAt: new Date().toISOString(),
  producer: hubProducer as unknown as DeliveryAcknowledged['producer'],
  legalBasis: 'Art. 5 Abs. 2 DSGVO (Rechenschaftspflicht)',
  purpose: 'test',
  correlationId,
  causationId: correlationId,
});

describe('decision deadlines after the receipt', () => {
  it('makes an acknowledged hand-off without a decision overdue, then escalated, per agency kind; a decision ends it', async () => {
    const log = createMemoryEventStore();
    const scheduler = startScheduler({ log, table: testRoutingTable });
    const birth = sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: 'D1' } as never });
    // With the child's IdNr: both the Elterngeldstelle and the Familienkasse receive it.
    await log.append('birth-11007007-G-2026-D1', [toRecord(registered(birth)), toRecord(childIdNr(birth))]);
    const scheduledOf = async () => (await collect(log.readAll())).map((e) => fromRecord(e)).filter((e): e is DeliveryScheduled => e?.type === 'DeliveryScheduled');
    const deadline = Date.now() + 10_000;
    while ((await scheduledOf()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await scheduler.stop();
    const scheduled = await scheduledOf();
    const egs = scheduled.find((d) => d.data.recipient.role === 'elterngeldstelle')!;
    const fka = scheduled.find((d) => d.data.recipient.role === 'familienkasse')!;
    expect(egs && fka).toBeTruthy();
    const receivedAt = '2026-12-01T08:00:00.000Z';
    for (const d of [egs, fka]) {
      const ack: DeliveryAcknowledged = {
        ...envelope(hubDerivedUuid('receipt', d.data.deliveryId), d.correlationId),
        type: 'DeliveryAcknowledged',
        data: { deliveryId: d.data.deliveryId, recipient: d.data.recipient.dvdv, receivedHash: receivedHashOf(d.data)!, receivedAt },
      };
      await log.append(deliveryStream(d.data.deliveryId), [toRecord(ack)]);
    }
    const milestone = (d: DeliveryScheduled, status: MilestoneStatus) => {
      const event: HandOffMilestone = {
        ...envelope(hubDerivedUuid('milestone', d.data.deliveryId, status), d.correlationId),
        type: 'HandOffMilestone',
        data: { deliveryId: d.data.deliveryId, recipient: d.data.recipient.dvdv, milestoneId: hubDerivedUuid('m', d.data.deliveryId, status), status, reportedAt: new Date().toISOString() },
      };
      return log.append(deliveryStream(d.data.deliveryId), [toRecord(event)]);
    };

    let clock = Date.now();
    const readSide = await startReadSide({
      log,
      dir: mkdtempSync(path.join(os.tmpdir(), 'elfe-decision-')),
      now: () => new Date(clock),
      escalation: {
        acknowledgeWithinMs: 60 * 60 * 1000,
        escalateAfterMs: 3 * day,
        checkEveryMs: 60 * 60 * 1000,
        decision: { elterngeldstelle: { decideWithinMs: 28 * day, escalateAfterMs: 56 * day }, familienkasse: { decideWithinMs: 14 * day, escalateAfterMs: 42 * day } },
      },
    });
    const settle = async () => readSide.caughtUp(await log.size());
    const stateOf = (role: string) => readSide.store.statesByRecipient({}, Number.MAX_SAFE_INTEGER).find((r) => r.role === role)?.state;
    const deadlines = async () =>
      (await collect(log.readAll()))
        .map((e) => fromRecord(e))
        .filter((e) => e?.type === 'HandOffOverdue' || e?.type === 'HandOffEscalated')
        .map((e) => [e!.type, (e!.data as { deliveryId: string }).deliveryId === egs.data.deliveryId ? 'egs' : 'fka', (e!.data as { step: string }).step]);
    await settle();
    // The delivered step's own time: when the agency stored it, as its receipt says (not when the hub logged the receipt).
    expect(readSide.store.handOff(fka.data.deliveryId)?.receivedAt).toBe(receivedAt);

    // The Familienkasse is working on it: not a decision.
    await milestone(fka, 'in-bearbeitung');
    await settle();
    clock += 13 * day;
    expect(await readSide.checkDeadlines()).toBe(0);
    clock += 2 * day;
    expect(await readSide.checkDeadlines()).toBe(1);
    await settle();
    expect(await deadlines()).toEqual([['HandOffOverdue', 'fka', 'decide']]);
    expect([stateOf('familienkasse'), stateOf('elterngeldstelle')]).toEqual(['decision-overdue', 'acknowledged']);
    expect(readSide.store.counts()).toMatchObject({ decisionOverdue: 1, decisionEscalated: 0, overdue: 0, escalated: 0 });
    expect(readSide.store.handOffsWhere({ lateOnly: true }, 10).map((h) => h.deliveryId)).toEqual([fka.data.deliveryId]);

    // The Elterngeldstelle decides in time; the Familienkasse does not.
    await milestone(egs, 'bewilligt');
    await settle();
    clock += 43 * day;
    expect(await readSide.checkDeadlines()).toBe(1);
    await settle();
    expect(await deadlines()).toEqual([['HandOffOverdue', 'fka', 'decide'], ['HandOffEscalated', 'fka', 'decide']]);
    expect([stateOf('familienkasse'), stateOf('elterngeldstelle')]).toEqual(['decision-escalated', 'acknowledged']);
    expect(readSide.store.counts()).toMatchObject({ decisionOverdue: 0, decisionEscalated: 1 });
    // A second check, or one after a restart, adds nothing.
    expect(await readSide.checkDeadlines()).toBe(0);

    // Paid implies decided: the hand-off is no longer late.
    await milestone(fka, 'ausgezahlt');
    await settle();
    expect(stateOf('familienkasse')).toBe('acknowledged');
    expect(readSide.store.counts()).toMatchObject({ decisionOverdue: 0, decisionEscalated: 0 });
    expect(readSide.store.handOffsWhere({ lateOnly: true }, 10)).toEqual([]);
    await readSide.stop();
    await log.close();
  });
});
