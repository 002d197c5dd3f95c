// A real nats-server running the configuration generated from the PKI: TLS everywhere,
// certificate-mapped users, subject permissions per role.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverySubject, receiptSubject } from '../../contracts/index.ts';
import { startLocalNatsServer, type LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { ensureAgencyConsumer, ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import { natsSecurityConfig, natsTlsOptions } from '../../hub/src/pki/natsConfig.ts';
import { ensureCa, ensurePartyCertificate, type PartyFiles } from '../../hub/src/pki/parties.ts';
import { issueCertificate, pkiInit, revoke } from '../../hub/src/pki/pki.ts';
import { natsAvailable, natsBinary } from '../support/natsServer.ts';

const tmp = (n: string) => mkdtempSync(path.join(os.tmpdir(), `elfe-${n}-`));

describe.skipIf(!natsAvailable)('NATS with TLS and permissions generated from the PKI', () => {
  let pki: string;
  let server: LocalNatsServer;
  let parties: Record<string, PartyFiles>;
  const open: NatsConnection[] = [];
  const as = async (files: PartyFiles, dir = pki) => {
    const nc = await connect({ servers: server.url, tls: natsTlsOptions(dir, files), reconnect: false, timeout: 5000 });
    open.push(nc);
    return nc;
  };
  /** Publishes and reports whether the server refused it for lack of permission. */
  const publishRefused = async (nc: NatsConnection, subject: string): Promise<boolean> => {
    let refused = false;
    const watching = (async () => {
      for await (const s of nc.status()) if (s.type === 'error' && /permission/i.test(String(s.error))) refused = true;
    })();
    nc.publish(subject, 'x');
    await nc.flush();
    await new Promise((r) => setTimeout(r, 200));
    void watching;
    return refused;
  };

  beforeAll(async () => {
    pki = tmp('pki');
    ensureCa(pki);
    parties = {
      server: ensurePartyCertificate(pki, { name: 'nats-server', role: 'hub', dvdv: 'hub:nats', displayName: 'nats-server', serverNames: ['127.0.0.1', 'localhost'] }),
      hub: ensurePartyCertificate(pki, { name: 'hub', role: 'hub', dvdv: 'hub:elfe-hub', displayName: 'elfe-hub' }),
      sta: ensurePartyCertificate(pki, { name: 'sta', role: 'standesamt', dvdv: 'psw:11000001', displayName: 'Standesamt' }),
      egsA: ensurePartyCertificate(pki, { name: 'egs-a', role: 'elterngeldstelle', dvdv: 'egs:11000000', displayName: 'EGS A' }),
      egsB: ensurePartyCertificate(pki, { name: 'egs-b', role: 'elterngeldstelle', dvdv: 'egs:04011000', displayName: 'EGS B' }),
      auditor: ensurePartyCertificate(pki, { name: 'auditor', role: 'auditor', dvdv: 'aud:bfdi', displayName: 'Auditor' }),
    };
    const revoked = issueCertificate(pki, { role: 'standesamt', dvdv: 'psw:02000000', name: 'Revoked' });
    revoke(pki, revoked.serial);
    parties.revoked = { certFile: revoked.certFile, keyFile: revoked.keyFile };
    const expired = issueCertificate(pki, { role: 'standesamt', dvdv: 'psw:09000000', name: 'Expired', validDays: 1, now: new Date(Date.now() - 5 * 86_400_000) });
    parties.expired = { certFile: expired.certFile, keyFile: expired.keyFile };
    server = await startLocalNatsServer({ storeDir: tmp('nats-tls'), extraConfig: natsSecurityConfig(pki, parties.server!), ...(natsBinary ? { binary: natsBinary } : {}) });
    const hub = await as(parties.hub!);
    await ensureStreams(await jetstreamManager(hub));
  });
  afterAll(async () => {
    for (const nc of open) await nc.close().catch(() => undefined);
    await server?.stop();
  });

  it('lets parties with valid certificates connect over TLS', async () => {
    const nc = await as(parties.sta!);
    expect(nc.info?.tls_required).toBe(true);
  });

  it('refuses a connection without a certificate, with a foreign CA, a revoked or an expired certificate', async () => {
    await expect(connect({ servers: server.url, reconnect: false, timeout: 3000 })).rejects.toThrow();
    const foreign = tmp('foreign');
    pkiInit(foreign);
    const impostor = issueCertificate(foreign, { role: 'standesamt', dvdv: 'psw:11000001', name: 'Impostor' });
    await expect(connect({ servers: server.url, tls: { caFile: path.join(pki, 'ca.cert.pem'), certFile: impostor.certFile, keyFile: impostor.keyFile }, reconnect: false, timeout: 3000 })).rejects.toThrow();
    await expect(as(parties.revoked!)).rejects.toThrow();
    await expect(as(parties.expired!)).rejects.toThrow();
  });

  it('a Standesamt may submit but not publish a receipt or read deliveries', async () => {
    const nc = await as(parties.sta!);
    expect(await publishRefused(nc, 'elfe.submit')).toBe(false);
    expect(await publishRefused(nc, receiptSubject('egs:11000000'))).toBe(true);
    expect(await publishRefused(nc, '$JS.API.CONSUMER.CREATE.ELFE_DELIVERIES.x')).toBe(true);
  });

  it('a revocation reaches NATS without restart: the users are regenerated and reloaded', async () => {
    const late = ensurePartyCertificate(pki, { name: 'sta-late', role: 'standesamt', dvdv: 'psw:04011000', displayName: 'Standesamt Bremen' });
    await server.reconfigure(natsSecurityConfig(pki, parties.server!));
    const nc = await as(late);
    expect(await publishRefused(nc, 'elfe.submit')).toBe(false);
    const serial = new X509Certificate(readFileSync(late.certFile)).serialNumber;
    revoke(pki, serial);
    await server.reconfigure(natsSecurityConfig(pki, parties.server!));
    await expect(as(late)).rejects.toThrow();
    await nc.closed();
    expect(nc.isClosed()).toBe(true);
  });

  it('an auditor may only read', async () => {
    const nc = await as(parties.auditor!);
    expect(await publishRefused(nc, 'elfe.submit')).toBe(true);
    expect(await publishRefused(nc, receiptSubject('egs:11000000'))).toBe(true);
    expect(await publishRefused(nc, '$JS.API.STREAM.INFO.ELFE_DELIVERIES')).toBe(false);
  });

  it('agency A consumes its own deliveries but cannot open a consumer on agency B\'s', async () => {
    const a = await as(parties.egsA!);
    const jsm = await jetstreamManager(a);
    await expect(ensureAgencyConsumer(jsm, 'egs:11000000')).resolves.toBe('agency-egs-11000000');
    await expect(jsm.consumers.add('ELFE_DELIVERIES', { durable_name: 'agency-egs-11000000', filter_subject: deliverySubject('egs:04011000') })).rejects.toThrow();
    await expect(ensureAgencyConsumer(jsm, 'egs:04011000')).rejects.toThrow();
    expect(await publishRefused(a, receiptSubject('egs:11000000'))).toBe(false);
    expect(await publishRefused(a, receiptSubject('egs:04011000'))).toBe(true);
  });
});
