import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReadFact } from './facts.ts';
import { openProjectionStore } from './projectionStore.ts';
import { handOffStatus } from './status.ts';

const caseId = 'birth-0123456789abcdef0123456789abcdef';
const otherCase = 'birth-fedcba9876543210fedcba9876543210';
const registerKey = '11007007/G/2026/ERASE-ME';
const childIdNr = '36574261809';
let position = 0;
const base = (messageId: string, at = '2026-11-20T10:00:00.000Z') => ({ messageId, position: position++, stream: caseId, at });

const registered = (id: string, key: string): ReadFact => ({ ...base(`00000000-0000-4000-8000-00000000000${position}`), stream: id, kind: 'registered', caseId: id, registerKey: key, standesamt: '11007007', birthDate: '2026-11-19', consent: true, idnrs: [] });
const scheduled = (id: string, deliveryId: string, role: 'elterngeldstelle' | 'familienkasse'): ReadFact => ({
  ...base(deliveryId),
  stream: id,
  kind: 'scheduled',
  caseId: id,
  deliveryId,
  recipient: role === 'elterngeldstelle' ? 'egs:11000000' : 'fka:ost',
  recipientName: role === 'elterngeldstelle' ? 'Elterngeldstelle Berlin' : 'Familienkasse Ost',
  role,
  handOffKind: 'initial',
  legalBasis: role === 'elterngeldstelle' ? '§ 57 Abs. 1 Nr. 8 PStV; § 25 BEEG' : '§ 62 Abs. 1 EStG',
  purpose: 'p',
  dataSet: role === 'elterngeldstelle' ? 'beeg-25' : 'kindergeld',
});

describe('the read side and an erased case', () => {
  it("drops the case's rows and its IdNr index in the transaction of its position; keeps the protocol (recipient, time, legal basis, category) and the erasure; nothing of it stays in the file", () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-readside-')), 'readside.sqlite');
    const store = openProjectionStore(file, randomBytes(32));
    const egs = '11111111-1111-4111-8111-111111111111';
    const fka = '22222222-2222-4222-8222-222222222222';
    store.apply(
      [
        registered(caseId, registerKey),
        { ...base('33333333-3333-4333-8333-333333333333'), kind: 'idnr-assigned', caseId, idnrs: [childIdNr] },
        scheduled(caseId, egs, 'elterngeldstelle'),
        scheduled(caseId, fka, 'familienkasse'),
        registered(otherCase, '11007007/G/2026/KEEP'),
      ],
      position,
    );
    expect(store.casesOfPerson(childIdNr)).toHaveLength(1);
    expect(store.lookUp(registerKey)?.kind).toBe('register-key');
    const erasedAt = '2026-12-01T09:00:00.000Z';
    const at = position;
    store.apply([{ ...base('44444444-4444-4444-8444-444444444444', erasedAt), kind: 'erased', caseId, erasedAt, reason: 'Art. 17 DSGVO' }], position);
    expect(store.position).toBe(at + 1);
    expect(store.caseById(caseId)).toBeUndefined();
    expect(store.handOffsOf(caseId)).toEqual([]);
    expect(store.casesOfPerson(childIdNr)).toEqual([]);
    expect(store.lookUp(registerKey)).toBeUndefined();
    // Its other ids answer as erased (410 at the API), the erasure itself is kept.
    expect(store.lookUp(egs)).toMatchObject({ kind: 'erased', caseId });
    expect(store.erasedCase(caseId)).toEqual({ caseId, erasedAt, reason: 'Art. 17 DSGVO', recipients: [] });
    // What the protocol keeps, and nothing more: who received which category, when, on which basis.
    const protocol = store.protocolOfPerson(childIdNr);
    expect(protocol.map((p) => Object.keys(p).sort())).toEqual([
      ['at', 'caseId', 'dataSet', 'legalBasis', 'purpose', 'recipient', 'recipientName', 'sender'],
      ['at', 'caseId', 'dataSet', 'legalBasis', 'purpose', 'recipient', 'recipientName', 'sender'],
    ]);
    expect(protocol.map((p) => [p.recipient, p.dataSet])).toEqual([
      ['egs:11000000', 'beeg-25'],
      ['fka:ost', 'kindergeld'],
    ]);
    // The other case is untouched.
    expect(store.caseById(otherCase)?.registerKey).toBe('11007007/G/2026/KEEP');
    // A rebuild (reset and replay) keeps the erasure and the protocol, without doubling it.
    store.reset();
    store.apply([{ ...base('44444444-4444-4444-8444-444444444444', erasedAt), kind: 'erased', caseId, erasedAt, reason: 'Art. 17 DSGVO' }], position);
    expect(store.protocolOfPerson(childIdNr)).toHaveLength(2);
    store.close();
    // No byte of the register key stays in the file (or its write-ahead log).
    const dir = path.dirname(file);
    const hits = readdirSync(dir).filter((f) => readFileSync(path.join(dir, f)).includes(Buffer.from('ERASE-ME')));
    expect(hits).toEqual([]);
  });
});

describe('hand-offs of keyed case ids', () => {
  it("carry the Standesamt of the case's row (the id names none), so a rejection goes back to it", () => {
    const store = openProjectionStore(':memory:', randomBytes(32));
    const delivery = '44444444-4444-4444-8444-444444444444';
    store.apply([registered(caseId, registerKey), scheduled(caseId, delivery, 'elterngeldstelle'), { ...base('55555555-5555-4555-8555-555555555555'), kind: 'rejected', deliveryId: delivery, reason: 'schema: bad' }], position);
    const h = store.handOff(delivery);
    expect(h?.standesamt).toBe('11007007');
    expect(store.handOffsOf(caseId).map((x) => x.standesamt)).toEqual(['11007007']);
    expect(handOffStatus(h!, { relayPosition: position }).nextParty).toBe('psw:11007007');
  });
});
