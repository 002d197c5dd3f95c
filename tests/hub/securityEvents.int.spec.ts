// Security events say who tried (key id or certificate serial and subject, DVDV), never the
// payload; they are rate limited per sender, so a flood of bad signatures cannot grow the log
// without bound; and the ingress bounds its work in flight, answering `unavailable` beyond it.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certificateSigner,
  certificateVerifier,
  ed25519Signer,
  eitherVerifier,
  keySetVerifier,
  SubmissionReplySchema,
  type Signer,
  type SubmissionReply,
} from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import type { LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { startIngress } from '../../hub/src/ingress/ingress.ts';
import { createKeyPair, loadTrustedKeys } from '../../hub/src/keys/keyDirectory.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import type { EventStore, StoredEvent } from '../../hub/src/log/eventStore.ts';
import { createMemoryEventStore } from '../../hub/src/log/memory/memoryEventStore.ts';
import { caCertificate, pkiInit, revocationSource } from '../../hub/src/pki/pki.ts';
import { issueParty } from '../support/parties.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { requestAs } from '../support/submit.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';
import { until } from '../../hub/src/runner/until.ts';

const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `elfe-${name}-`));
type SecurityData = { code: string; reason: string; subject: Record<string, unknown> };
const securityOf = (entries: StoredEvent[]): SecurityData[] => entries.filter((e) => e.stream === 'security').map((e) => (e.data as { data: SecurityData }).data);

describe.skipIf(!natsAvailable)('security events and load bounds at the ingress', () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let keys: string;
  let standesamt: Signer;
  let agency: Signer;

  beforeAll(async () => {
    nats = await startTestNatsServer();
    nc = await connect({ servers: nats.url });
    keys = tmp('sec-keys');
    standesamt = createKeyPair(keys, { name: 'sta', dvdv: 'psw:11007007', role: 'standesamt' });
    agency = createKeyPair(keys, { name: 'egs-berlin', dvdv: 'egs:11000000', role: 'elterngeldstelle' });
  });
  afterAll(async () => {
    await nc.close();
    await nats.stop();
  });

  const send = async (payload: unknown, signer: Signer, timeout = 5000): Promise<SubmissionReply> => {
    const reply = await requestAs(nc, signer.identity.dvdv, JSON.stringify({ payload, signature: signer.sign(payload) }), { timeout });
    return SubmissionReplySchema.parse(JSON.parse(new TextDecoder().decode(reply.data)));
  };
  const birth = (eintragsnummer: string) => registered(sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer } as never }));
  const codeOf = (r: SubmissionReply) => (r.ok ? 'ok' : r.error.code);

  it('names the key id and DVDV of who tried, or the certificate serial and subject, never the payload', async () => {
    const log = createMemoryEventStore();
    const pki = tmp('sec-pki');
    await pkiInit(pki);
    const fk = await issueParty(pki, { role: 'familienkasse', dvdv: 'fka:ost', name: 'Familienkasse Ost' });
    const fkSigner = certificateSigner(fk.privateKey, fk.certificatePem);
    const verifier = eitherVerifier(certificateVerifier({ caCertificatePem: caCertificate(pki), revokedSerials: revocationSource(pki) }), keySetVerifier(loadTrustedKeys(keys)));
    const ingress = startIngress({ nc, log, verifier });
    const forger = ed25519Signer(generateKeyPairSync('ed25519').privateKey, { dvdv: 'psw:11007007', role: 'standesamt', name: 'forger' });
    const event = birth('S1');
    expect(codeOf(await send({ ...event, producer: { dvdv: 'egs:11000000', name: 'x', role: 'elterngeldstelle' } }, agency))).toBe('role-not-allowed');
    expect(codeOf(await send({ ...event, producer: { dvdv: 'fka:ost', name: 'x', role: 'familienkasse' } }, fkSigner))).toBe('role-not-allowed');
    expect(codeOf(await send(event, forger))).toBe('unknown-signer');
    const security = securityOf(await collect(log.readAll()));
    expect(security.map((s) => s.subject)).toEqual([
      { keyId: agency.identity.keyId, dvdv: 'egs:11000000', role: 'elterngeldstelle', name: 'egs-berlin', verified: true },
      { certificateSerial: fk.serial.toUpperCase(), dvdv: 'fka:ost', role: 'familienkasse', name: 'Familienkasse Ost', verified: true },
      { keyId: forger.identity.keyId, verified: false },
    ]);
    expect(JSON.stringify(security)).not.toMatch(/Müller|Sophie|Mia|3657426/);
    await ingress.stop();
    await log.close();
  });

  it('rate limits security events per sender and records one summary per window', async () => {
    const log = createMemoryEventStore();
    // One summary window long enough for the 40 requests below even on a loaded machine (each is a
    // round trip; at 300 ms the flood was split over two windows there).
    const ingress = startIngress({ nc, log, verifier: keySetVerifier(loadTrustedKeys(keys)), securityEvents: { burst: 5, refillPerSecond: 0.001, summaryEveryMs: 3000 } });
    try {
    const forgers = Array.from({ length: 40 }, (_, i) => ed25519Signer(generateKeyPairSync('ed25519').privateKey, { dvdv: 'psw:11007007', role: 'standesamt', name: `forger-${i}` }));
    for (const [i, forger] of forgers.entries()) expect(codeOf(await send(birth(`S2-${i}`), forger))).toBe('unknown-signer');
    // A known sender has a bucket of its own: the flood above does not silence it.
    expect(codeOf(await send({ ...birth('S2-x'), producer: { dvdv: 'egs:11000000', name: 'x', role: 'elterngeldstelle' } }, agency))).toBe('role-not-allowed');
    await until(async () => securityOf(await collect(log.readAll())).some((s) => s.code === 'security-events-suppressed'), { timeoutMs: 10_000, intervalMs: 20 });
    const security = securityOf(await collect(log.readAll()));
    expect(security.filter((s) => s.code === 'unknown-signer')).toHaveLength(5);
    expect(security.filter((s) => s.code === 'role-not-allowed')).toHaveLength(1);
    expect(security.filter((s) => s.code === 'security-events-suppressed').map((s) => s.reason)).toEqual([expect.stringContaining('35')]);
    expect(ingress.stats).toMatchObject({ securityEventsSuppressed: 35 });
    } finally {
      // Stopped even when an expectation failed: a running ingress would answer the next test's submissions.
      await ingress.stop();
      await log.close();
    }
  });

  it('bounds the work in flight: beyond the limit it answers unavailable at once instead of queueing', async () => {
    const inner = createMemoryEventStore();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    // A log that is slow to append births (e.g. a disk that stalls).
    const slow: EventStore = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'append') return async (...args: Parameters<EventStore['append']>) => (args[0].startsWith('birth-') ? gate.then(() => target.append(...args)) : target.append(...args));
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const ingress = startIngress({ nc, log: slow, verifier: keySetVerifier(loadTrustedKeys(keys)), maxInFlight: 2 });
    const replies: SubmissionReply[] = [];
    const pending = Array.from({ length: 6 }, (_, i) => send(birth(`S3-${i}`), standesamt, 10_000).then((r) => (replies.push(r), r)));
    await until(() => replies.length >= 4, { timeoutMs: 5_000, intervalMs: 20 });
    expect(replies.map(codeOf)).toEqual(['unavailable', 'unavailable', 'unavailable', 'unavailable']);
    open();
    const all = await Promise.all(pending);
    expect(all.map(codeOf)).toEqual(['ok', 'ok', 'unavailable', 'unavailable', 'unavailable', 'unavailable']);
    await ingress.stop();
    await inner.close();
  });
});
