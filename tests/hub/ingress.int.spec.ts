// The hub's ingress against a real nats-server: what is accepted, and every typed refusal.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519Signer, keySetVerifier, SubmissionReplySchema, type Signer, type SubmissionReply } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { startIngress, type Ingress } from '../../hub/src/ingress/ingress.ts';
import { createKeyPair, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import type { SqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { requestAs } from '../support/submit.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';

describe.skipIf(!natsAvailable)('ingress', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let store: SqliteEventStore;
  let ingress: Ingress;
  let standesamt: Signer;
  let agency: Signer;
  let otherStandesamt: Signer;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    const keys = mkdtempSync(path.join(os.tmpdir(), 'elfe-ingress-keys-'));
    standesamt = createKeyPair(keys, { name: 'sta', dvdv: 'psw:11007007', role: 'standesamt' });
    otherStandesamt = createKeyPair(keys, { name: 'sta2', dvdv: 'psw:04011000', role: 'standesamt' });
    agency = createKeyPair(keys, { name: 'egs', dvdv: 'egs:11000000', role: 'elterngeldstelle' });
    store = createMemoryEventStore();
    ingress = startIngress({ nc, log: store, verifier: keySetVerifier(loadTrustedKeys(keys)), maxBytes: 64 * 1024 });
  });
  afterAll(async () => {
    await ingress.stop();
    await nc.close();
    await store.close();
    await nats.stop();
  });

  /** Sent as the signer whose key signed the body (the hub answers a verified signer on its own inbox only). */
  const send = async (body: string | Uint8Array): Promise<SubmissionReply> => {
    let keyId: unknown;
    try {
      keyId = (JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body)) as { signature?: { keyId?: unknown } }).signature?.keyId;
    } catch {
      keyId = undefined;
    }
    const signer = [standesamt, otherStandesamt, agency].find((s) => s.identity.keyId === keyId) ?? standesamt;
    const reply = await requestAs(nc, signer.identity.dvdv, body);
    return SubmissionReplySchema.parse(JSON.parse(new TextDecoder().decode(reply.data)));
  };
  const signed = (payload: unknown, signer: Signer = standesamt) => JSON.stringify({ payload, signature: signer.sign(payload) });
  const codeOf = (r: SubmissionReply) => (r.ok ? 'ok' : r.error.code);
  const dataEntries = async () => (await collect(store.readAll())).filter((e) => e.stream !== 'security');
  const securityEntries = async () => (await collect(store.readAll())).filter((e) => e.stream === 'security');

  it('accepts a signed registration once; a resend is a duplicate with the same position', async () => {
    const event = registered();
    const first = await send(signed(event));
    expect(first).toMatchObject({ ok: true, duplicate: false });
    const again = await send(signed(event));
    expect(again).toEqual({ ...first, duplicate: true });
    expect((await dataEntries()).filter((e) => e.eventId === event.messageId)).toHaveLength(1);
  });

  it('refuses a second registration of the same birth as a conflict', async () => {
    const b = sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: '999' } as never });
    expect(codeOf(await send(signed(registered(b))))).toBe('ok');
    expect(codeOf(await send(signed(registered(b))))).toBe('conflict');
  });

  it('refuses hostile or broken input with typed codes, leaving the data in the log unchanged', async () => {
    const before = (await dataEntries()).length;
    const event = registered(sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: '777' } as never }));
    const forger = ed25519Signer(generateKeyPairSync('ed25519').privateKey, { dvdv: 'psw:11007007', role: 'standesamt', name: 'forger' });
    const tampered = JSON.parse(signed(event));
    tampered.payload.data.child.name.firstNames = ['Mallory'];
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const badIdNr = JSON.parse(JSON.stringify(event));
    badIdNr.data.parent1.idnr = '12345678901';
    const cases: [string, string | Uint8Array, string][] = [
      ['oversized', 'x'.repeat(70 * 1024), 'too-large'],
      ['not JSON', '{"payload":', 'malformed'],
      ['deeply nested JSON', deep, 'malformed'],
      ['no signature', JSON.stringify({ payload: event }), 'signature-malformed'],
      ['garbage signature', JSON.stringify({ payload: event, signature: { alg: 'RSA', keyId: 'x', value: 'y' } }), 'signature-malformed'],
      ['an unknown signer', signed(event, forger), 'unknown-signer'],
      ['a tampered payload', JSON.stringify(tampered), 'signature-invalid'],
      ['an agency submitting a registration', signed({ ...event, producer: { dvdv: 'egs:11000000', name: 'x', role: 'elterngeldstelle' } }, agency), 'role-not-allowed'],
      ['another Standesamt signing for this one', signed(event, otherStandesamt), 'producer-mismatch'],
      ['an invalid IdNr', signed(badIdNr), 'invalid-contract'],
      ['an unknown event type', signed({ ...event, type: 'DeathRegistered' }), 'invalid-contract'],
    ];
    for (const [name, body, code] of cases) expect(codeOf(await send(body)), name).toBe(code);
    const invalid = await send(signed(badIdNr));
    expect(!invalid.ok && invalid.error.path).toBe('data.parent1.idnr');
    expect((await dataEntries()).length).toBe(before);
    // Who-is-speaking refusals are security events, without the refused personal data.
    const security = await securityEntries();
    expect(security.map((e) => (e.data as { data: { code: string } }).data.code)).toEqual(
      expect.arrayContaining(['unknown-signer', 'signature-invalid', 'role-not-allowed', 'producer-mismatch']),
    );
    expect(JSON.stringify(security.map((e) => e.data))).not.toMatch(/Müller|Sophie|Mallory|3657426/);
  });

  it('without a current CRL the hub answers unavailable (retryable, no security event): the submission waits at the office, nothing is stored', async () => {
    const blind = createMemoryEventStore();
    const local = await connect({ servers: nats.url });
    // A hub whose trust holds no current revocation list: the verifier can check nobody.
    const noCrl = startIngress({ nc: local, log: blind, verifier: { verify: () => ({ success: false, error: { code: 'revocation-unknown', message: 'no current CRL' } }) } as never });
    await ingress.stop();
    try {
      const reply = await send(signed(registered(sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: 'CRL-1' } } as never))));
      expect(codeOf(reply)).toBe('unavailable');
      expect(await collect(blind.readAll())).toEqual([]);
    } finally {
      await noCrl.stop();
      await local.close();
      await blind.close();
      ingress = startIngress({ nc, log: store, verifier: keySetVerifier(loadTrustedKeys(path.join(os.tmpdir(), 'none'))), maxBytes: 64 * 1024 });
    }
  });
});
