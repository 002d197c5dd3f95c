// Authority over a birth case at the ingress, against a real nats-server and real signatures:
// only the office in the register key registers, corrects or withdraws; the IdNr comes from
// the Meldebehörde for an existing case only; refusals are typed and recorded as security events.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySetVerifier, SubmissionReplySchema, type BirthRegisteredData, type Signer, type SubmissionReply } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { startIngress, type Ingress } from '../../hub/src/ingress/ingress.ts';
import { createKeyPair, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import type { SqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { childIdNr, corrected, registered, withdrawn } from '../../hub/src/routing/testing.ts';
import { MeldebehoerdeTableSchema } from '../../hub/src/routing/routingTable.ts';
import { requestAs } from '../support/submit.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';

describe.skipIf(!natsAvailable)('authority over a birth case', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let store: SqliteEventStore;
  let ingress: Ingress;
  let berlin: Signer;
  let bremen: Signer;
  let meldebehoerde: Signer;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    const keys = mkdtempSync(path.join(os.tmpdir(), 'elfe-authority-keys-'));
    berlin = createKeyPair(keys, { name: 'sta-berlin', dvdv: 'psw:11007007', role: 'standesamt' });
    bremen = createKeyPair(keys, { name: 'sta-bremen', dvdv: 'psw:04011000', role: 'standesamt' });
    meldebehoerde = createKeyPair(keys, { name: 'mbh', dvdv: 'mbh:11000000', role: 'meldebehoerde' });
    store = createMemoryEventStore();
    // The Meldebehörde responsible for Berlin's Standesämter (prefix 11), as the hub's table says.
    ingress = startIngress({ nc, log: store, verifier: keySetVerifier(loadTrustedKeys(keys)), meldebehoerden: MeldebehoerdeTableSchema.parse({ rules: [{ standesamtPrefix: '11', meldebehoerde: 'mbh:11000000' }] }) });
  });
  afterAll(async () => {
    await ingress.stop();
    await nc.close();
    await store.close();
    await nats.stop();
  });

  const asProducer = <T extends object>(event: T, signer: Signer): T => ({ ...event, producer: { dvdv: signer.identity.dvdv, name: signer.identity.name, role: signer.identity.role } });
  const send = async (event: object, signer: Signer): Promise<string> => {
    const payload = asProducer(event, signer);
    const reply = await requestAs(nc, signer.identity.dvdv, JSON.stringify({ payload, signature: signer.sign(payload) }));
    const parsed: SubmissionReply = SubmissionReplySchema.parse(JSON.parse(new TextDecoder().decode(reply.data)));
    return parsed.ok ? 'ok' : parsed.error.code;
  };
  const birth = (eintragsnummer: string): BirthRegisteredData =>
    sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer } as never });
  const caseEntries = async (b: BirthRegisteredData) =>
    (await collect(store.readAll())).filter((e) => e.stream === `birth-11007007-G-2026-${b.registerKey.eintragsnummer}`).map((e) => e.type);
  const securityCodes = async () => (await collect(store.readAll())).filter((e) => e.stream === 'security').map((e) => (e.data as { data: { code: string } }).data.code);

  it('another Standesamt may neither register, correct nor withdraw a Berlin case', async () => {
    const b = birth('A1');
    expect(await send(registered(b), bremen)).toBe('not-case-owner');
    expect(await send(registered(b), berlin)).toBe('ok');
    expect(await send(corrected({ ...b, zuordnungGeburtsanzeige: 'GA-X' }), bremen)).toBe('not-case-owner');
    expect(await send(withdrawn(b), bremen)).toBe('not-case-owner');
    expect(await caseEntries(b)).toEqual(['BirthRegistered']);
    expect(await securityCodes()).toEqual(expect.arrayContaining(['not-case-owner']));
    expect((await securityCodes()).filter((c) => c === 'not-case-owner')).toHaveLength(3);
  });

  it('the owning office corrects and withdraws its existing case', async () => {
    const b = birth('A2');
    expect(await send(registered(b), berlin)).toBe('ok');
    expect(await send(corrected({ ...b, zuordnungGeburtsanzeige: 'GA-Y' }), berlin)).toBe('ok');
    expect(await send(withdrawn(b), berlin)).toBe('ok');
    expect(await caseEntries(b)).toEqual(['BirthRegistered', 'BirthRegistrationCorrected', 'ParentalConsentWithdrawn']);
  });

  it('corrections and withdrawals of an unknown case are refused, not stored', async () => {
    const b = birth('A3');
    expect(await send(corrected(b), berlin)).toBe('unknown-case');
    expect(await send(withdrawn(b), berlin)).toBe('unknown-case');
    expect(await caseEntries(b)).toEqual([]);
  });

  it('the IdNr comes from the Meldebehörde for an existing case only', async () => {
    const b = birth('A4');
    expect(await send(childIdNr(b), meldebehoerde)).toBe('unknown-case');
    expect(await send(registered(b), berlin)).toBe('ok');
    expect(await send(childIdNr(b), berlin)).toBe('role-not-allowed');
    expect(await send(childIdNr(b), meldebehoerde)).toBe('ok');
    expect(await send(corrected(b), meldebehoerde)).toBe('role-not-allowed');
    expect(await caseEntries(b)).toEqual(['BirthRegistered', 'ChildIdNrAssigned']);
  });

  it('a correction cannot smuggle in another case\'s register key', async () => {
    const own = birth('A5');
    expect(await send(registered(own), berlin)).toBe('ok');
    const foreign = sampleBirthRegistration({ registerKey: { standesamtsnummer: '04011000', registerart: 'G', jahr: 2026, eintragsnummer: '1' } as never });
    const smuggled = corrected(own);
    expect(await send({ ...smuggled, data: { ...smuggled.data, registration: foreign } }, berlin)).toBe('invalid-contract');
    expect(await caseEntries(own)).toEqual(['BirthRegistered']);
  });
});
