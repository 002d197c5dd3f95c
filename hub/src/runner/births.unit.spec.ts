// Where a birth's latency went, read back from the log: each hop between the times the log and
// the agency's receipt record.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BirthRegisteredDataSchema, hubDerivedUuid, toBirthRegistered, type DeliveryAcknowledged } from '../../../contracts/index.ts';
import { parseConfig } from '../config/config.ts';
import { makeScenarios } from '../demo/synthetic.ts';
import { createMemoryEventStore } from '../log/memory/memoryEventStore.ts';
import { hubProducer, toRecord } from '../log/records.ts';
import { deliveryStream } from '../log/streams.ts';
import { decide, initialState, isDecision } from '../routing/birthCase.ts';
import { scheduledEvent } from '../scheduler/scheduler.ts';
import { birthLatencies } from './births.ts';

describe('birth latencies', () => {
  it('splits each birth into ingress, routing, the way to the agency and the receipt back', async () => {
    const config = parseConfig({});
    const s = makeScenarios({ births: 1, seed: 3, standesaemter: config.standesaemter })[0]!;
    const registration = BirthRegisteredDataSchema.parse({ ...s.registration, child: { ...s.registration.child, idnr: s.childIdNr }, parent1: { ...s.registration.parent1, idnr: s.parent1IdNr }, consent: { elterngeldstelle: true, auftragsnummer: 'EG-2026-1' } });
    const birthId = '5f0e7f0c-2f4e-4c1a-9d3b-6a1e2b3c4d5e';
    const t0 = Date.parse('2026-12-01T10:00:00.000Z');
    let clock = t0;
    const store = createMemoryEventStore({ now: () => new Date(clock) });
    const birth = toBirthRegistered(registration, { messageId: birthId, occurredAt: new Date(t0).toISOString(), producer: { dvdv: `psw:${s.standesamt.standesamtsnummer}` as never, name: 'Standesamt', role: 'standesamt' }, correlationId: birthId });
    clock = t0 + 12;
    await store.append('birth-case-1', [toRecord(birth)]);
    const decisions = decide(initialState, birth, config.routing).filter(isDecision);
    expect(decisions).toHaveLength(2);
    clock = t0 + 20;
    await store.append('birth-case-1', decisions.map((d) => toRecord(scheduledEvent(d, birth.correlationId, new Date(clock).toISOString()))));
    // The agencies receive at +35 and +50; their receipts are logged at +41 and +70.
    for (const [i, d] of decisions.entries()) {
      const receivedAt = new Date(t0 + [35, 50][i]!).toISOString();
      const answer: DeliveryAcknowledged = {
        messageId: hubDerivedUuid('receipt', d.deliveryId),
        type: 'DeliveryAcknowledged',
        schemaVersion: 1,
        occurredAt: receivedAt,
        producer: hubProducer as unknown as DeliveryAcknowledged['producer'],
        legalBasis: 'Art. 5 Abs. 2 DSGVO (Rechenschaftspflicht)',
        purpose: 'Record of a hand-off to a benefit agency',
        correlationId: birth.correlationId,
        causationId: birth.correlationId,
        data: { deliveryId: d.deliveryId, recipient: d.recipient.dvdv, receivedHash: 'a'.repeat(64), receivedAt },
      };
      clock = t0 + [41, 70][i]!;
      await store.append(deliveryStream(d.deliveryId), [toRecord(answer)]);
    }
    const latencies = await birthLatencies(store, mkdtempSync(path.join(os.tmpdir(), 'elfe-latencies-')), new Map([[birthId, t0]]));
    expect(latencies.done).toEqual([70]);
    expect(latencies.acknowledged).toBe(2);
    expect(latencies.stages).toEqual({ ingress: [12], routing: [8, 8], toAgency: [15, 30], receiptBack: [6, 20] });
  });
});
