// A real nats-server running the configuration generated from the PKI: TLS everywhere,
// certificate-mapped users, subject permissions per role.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateFacts, deliverySubject, inboxPrefixOf, receiptSubject, submitSubjectOf } from '../../contracts/index.ts';
import { startLocalNatsServer, type LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { ensureAgencyConsumer, ensureStreams } from '../../hub/src/infra/nats/streams.ts';
import { natsSecurityConfig, natsTlsOptions, type NatsPkiFiles } from '../../hub/src/pki/natsConfig.ts';
import { caCertFileOf, crlFileOf, pkiInit, revoke } from '../../hub/src/pki/pki.ts';
import { natsAvailable, natsBinary } from '../support/natsServer.ts';
import { issueParty, tmpDir as tmp } from '../support/parties.ts';

interface PartyFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

describe.skipIf(!natsAvailable)('NATS with TLS and permissions generated from the PKI', () => {
  let pki: string;
  let server: LocalNatsServer;
  let parties: Record<string, PartyFiles>;
  const open: NatsConnection[] = [];
  let files: NatsPkiFiles;
  const as = async (party: PartyFiles) => {
    // Each party's replies arrive below its own inbox prefix, the only one it may subscribe to.
    const dvdv = certificateFacts(new X509Certificate(readFileSync(party.certFile)))?.dvdv;
    const nc = await connect({ servers: server.url, tls: natsTlsOptions(caCertFileOf(pki), party), reconnect: false, timeout: 5000, ...(dvdv ? { inboxPrefix: inboxPrefixOf(dvdv) } : {}) });
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

  /** Subscribes and reports whether the server refused it for lack of permission. */
  const subscribeRefused = async (nc: NatsConnection, subject: string): Promise<boolean> => {
    let refused = false;
    const watching = (async () => {
      for await (const s of nc.status()) if (s.type === 'error' && /permission/i.test(String(s.error))) refused = true;
    })();
    nc.subscribe(subject, {
      callback: (error) => {
        if (error && /permission/i.test(String(error))) refused = true;
      },
    });
    await nc.flush();
    await new Promise((r) => setTimeout(r, 200));
    void watching;
    return refused;
  };

  it('the hub\'s ingress responder may take submissions and answer them, nothing else', async () => {
    const responder = await as(parties.ingress!);
    expect(await subscribeRefused(responder, 'elfe.submit.>')).toBe(false);
    expect(await publishRefused(responder, '$JS.API.STREAM.PURGE.ELFE_DELIVERIES')).toBe(true);
    expect(await publishRefused(responder, deliverySubject('egs:11000000'))).toBe(true);
    expect(await subscribeRefused(responder, '_INBOX.>')).toBe(true);
  });

  beforeAll(async () => {
    pki = tmp('pki');
    await pkiInit(pki);
    files = { caCertFile: caCertFileOf(pki), crlFile: crlFileOf(pki), issuedDir: path.join(pki, 'issued') };
    parties = {
      server: await issueParty(pki, { tlsServer: true, name: 'nats-server', serverNames: ['127.0.0.1', 'localhost'] }),
      hub: await issueParty(pki, { role: 'hub', dvdv: 'hub:elfe-hub', name: 'elfe-hub' }),
      ingress: await issueParty(pki, { role: 'hub', dvdv: 'hub:ingress', name: 'elfe-hub ingress' }),
      sta: await issueParty(pki, { role: 'standesamt', dvdv: 'psw:11000001', name: 'Standesamt' }),
      egsA: await issueParty(pki, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'EGS A' }),
      egsB: await issueParty(pki, { role: 'elterngeldstelle', dvdv: 'egs:04011000', name: 'EGS B' }),
      auditor: await issueParty(pki, { role: 'auditor', dvdv: 'aud:bfdi', name: 'Auditor' }),
    };
    const revoked = await issueParty(pki, { role: 'standesamt', dvdv: 'psw:02000000', name: 'Revoked' });
    await revoke(pki, revoked.serial);
    parties.revoked = revoked;
    parties.expired = await issueParty(pki, { role: 'standesamt', dvdv: 'psw:09000000', name: 'Expired' }, { days: 1, now: new Date(Date.now() - 5 * 86_400_000) });
    server = await startLocalNatsServer({ storeDir: tmp('nats-tls'), extraConfig: natsSecurityConfig(files, parties.server!), ...(natsBinary ? { binary: natsBinary } : {}) });
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
    await pkiInit(foreign);
    const impostor = await issueParty(foreign, { role: 'standesamt', dvdv: 'psw:11000001', name: 'Impostor' });
    await expect(connect({ servers: server.url, tls: { caFile: path.join(pki, 'ca.cert.pem'), certFile: impostor.certFile, keyFile: impostor.keyFile }, reconnect: false, timeout: 3000 })).rejects.toThrow();
    await expect(as(parties.revoked!)).rejects.toThrow();
    await expect(as(parties.expired!)).rejects.toThrow();
    // The nats-server's own TLS identity is no user of any role.
    await expect(as(parties.server!)).rejects.toThrow();
  });

  it('a Standesamt may submit but not publish a receipt or read deliveries', async () => {
    const nc = await as(parties.sta!);
    expect(await publishRefused(nc, submitSubjectOf('psw:11000001'))).toBe(false);
    // Only on its own submit subject, and it reads no other party's inbox.
    expect(await publishRefused(nc, submitSubjectOf('psw:04011000'))).toBe(true);
    expect(await publishRefused(nc, 'elfe.submit')).toBe(true);
    expect(await subscribeRefused(nc, '_INBOX.>')).toBe(true);
    expect(await subscribeRefused(nc, `${inboxPrefixOf('egs:11000000')}.>`)).toBe(true);
    expect(await publishRefused(nc, receiptSubject('egs:11000000'))).toBe(true);
    expect(await publishRefused(nc, '$JS.API.CONSUMER.CREATE.ELFE_DELIVERIES.x')).toBe(true);
  });

  it('a revocation reaches NATS without restart: the revoked certificate is refused while its owner\'s newer one connects', async () => {
    const old = await issueParty(pki, { role: 'standesamt', dvdv: 'psw:04011000', name: 'Standesamt Bremen' });
    await server.reconfigure(natsSecurityConfig(files, parties.server!));
    const nc = await as(old);
    expect(await publishRefused(nc, submitSubjectOf('psw:04011000'))).toBe(false);
    const renewed = await issueParty(pki, { role: 'standesamt', dvdv: 'psw:04011000', name: 'Standesamt Bremen' });
    await revoke(pki, old.serial);
    await server.reconfigure(natsSecurityConfig(files, parties.server!));
    await expect(as(old)).rejects.toThrow();
    await nc.closed();
    expect(nc.isClosed()).toBe(true);
    const fresh = await as(renewed);
    expect(await publishRefused(fresh, submitSubjectOf('psw:04011000'))).toBe(false);
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
    // It sees its own consumer only: not the stream's info (every recipient's counts by subject filter).
    expect(await publishRefused(a, '$JS.API.STREAM.INFO.ELFE_DELIVERIES')).toBe(true);
  });
});
