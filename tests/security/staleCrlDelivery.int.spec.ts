// Failing closed must not lose a delivery: an agency connector whose CRL is past its grace
// (real CA files, a party trust from connectors/kit, a real nats-server) checks no signature,
// so it takes no delivery, but it does not throw the hub's delivery away either (before:
// terminated as "not signed by the hub"); once its CRL is good again, the same delivery is taken once.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { deliverySubject } from '../../contracts/index.ts';
import { startAgencyConsumer } from '../../connectors/kit/agencyConsumer.ts';
import { createRequest } from '../../connectors/kit/credentials.ts';
import { certificateTrust } from '../../connectors/kit/trust.ts';
import { caCertFileOf, crlFileOf, enrolRequest, pkiInit } from '../../hub/src/pki/pki.ts';
import { elterngeldDelivery } from '../support/deliveries.ts';
import { natsAvailable, natsWithStreams } from '../support/natsServer.ts';
import { until } from '../support/processes.ts';

const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `elfe-${name}-`));

async function party(ca: string, dir: string, request: Parameters<typeof createRequest>[1], allowHubIdentity = false) {
  await createRequest(dir, request);
  const issued = await enrolRequest(ca, readFileSync(path.join(dir, 'request.csr'), 'utf8'), allowHubIdentity ? { allowHubIdentity: true } : {});
  writeFileSync(path.join(dir, 'cert.pem'), issued.certificatePem);
}

describe.skipIf(!natsAvailable)('a connector without a current CRL', () => {
  const nats = natsWithStreams();

  it('takes no delivery while its CRL is past the grace, loses none, and takes it once a current CRL is back', async () => {
    const ca = tmp('stale-crl-ca');
    await pkiInit(ca);
    const root = tmp('stale-crl-parties');
    const hubDir = path.join(root, 'hub');
    const egsDir = path.join(root, 'egs');
    await party(ca, hubDir, { role: 'hub', dvdv: 'hub:elfe-hub', name: 'elfe-hub' }, true);
    await party(ca, egsDir, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' });
    const hubTrust = certificateTrust({ dir: hubDir, caCertFile: caCertFileOf(ca), crlFile: crlFileOf(ca) });
    // The agency's trust takes the CA's CRL (30 days to its nextUpdate); then its clock runs 60 days
    // ahead: the list in force is past its nextUpdate and the day of grace, and no newer one came.
    let ahead = false;
    const now = () => new Date(Date.now() + (ahead ? 60 * 86_400_000 : 0));
    const egsTrust = certificateTrust({ dir: egsDir, caCertFile: caCertFileOf(ca), crlFile: crlFileOf(ca), now });
    ahead = true;
    expect(egsTrust.revoked.unusable?.code).toBe('crl-stale');

    const delivery = elterngeldDelivery('7f1e8c36-5c55-4a8e-9d0e-333333333333', { dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' });
    const handled: string[] = [];
    const lines: string[] = [];
    const consumer = await startAgencyConsumer({
      nc: nats.nc,
      dvdv: 'egs:11000000',
      signer: egsTrust.signer,
      hubVerifier: egsTrust.verifier,
      stateDir: tmp('stale-crl-state'),
      handle: async (d) => {
        handled.push(d.deliveryId);
        return { ok: true };
      },
      revocationUnknownRetryMs: 500,
      log: (line) => lines.push(line),
    });
    try {
      await jetstream(nats.nc).publish(deliverySubject('egs:11000000'), JSON.stringify({ payload: delivery, signature: hubTrust.signer.sign(delivery) }), { msgID: delivery.deliveryId });
      await until(() => consumer.stats.received >= 2, { what: 'the delivery offered twice', timeoutMs: 15_000 });
      expect(handled).toEqual([]);
      expect(consumer.stats.refused).toBe(0);
      expect(lines.join('\n')).toMatch(/not checked, will be redelivered/);
      // A current CRL again (here: the agency's clock back in step): the same delivery is taken, once.
      ahead = false;
      expect(egsTrust.revoked.unusable).toBeUndefined();
      await until(() => handled.length === 1, { what: 'the delivery taken after the CRL is current', timeoutMs: 15_000 });
      expect(handled).toEqual([delivery.deliveryId]);
      expect(consumer.stats.refused).toBe(0);
    } finally {
      await consumer.stop();
    }
    expect(readdirSync(egsDir)).toContain('crl.seen.json');
  }, 60_000);
});
