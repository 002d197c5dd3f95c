// Revocation fails closed, against the running exchange (`elfe exchange init`, `elfe hub start`
// with its own nats-server, `elfe pki revoke` on the CA's real files): an older CRL copied over
// the current one does not un-revoke a certificate, a CRL whose nextUpdate passed a year ago
// is not taken, and in both cases the hub keeps its last good CRL, logs at error level and
// raises its alert metric; a restart over an older CRL than the hub has seen does not start.
import { copyFileSync, cpSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { registered } from '../../hub/src/routing/testing.ts';
import { certificateTrust } from '../../connectors/kit/trust.ts';
import { crlFileOf, readCrl, refreshCrl } from '../../hub/src/pki/pki.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { asProducer, birthOf, codeOf, startLiveExchange, submit, type LiveExchange } from '../support/liveExchange.ts';
import { runElfe } from '../support/processes.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const BERLIN = 'sta-11007007'; // its certificate gets revoked
const BREMEN = 'sta-04011000'; // carries the revoked office's signed submissions to the hub

describe.skipIf(!natsAvailable)('revocation fails closed: CRL rollback and stale CRL, against the running hub', () => {
  let ex: LiveExchange;
  let bremen: NatsConnection;
  let scratchCa: string;
  let oldCrl: string;
  let revokingCrl: string;
  let n = 0;

  beforeAll(async () => {
    ex = await startLiveExchange('revocation');
    bremen = await ex.connectAs(BREMEN);
    // Before any revocation: a copy of the CA's directory (its CRL number 1) and of the CRL itself.
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'elfe-revocation-scratch-'));
    scratchCa = path.join(scratch, 'ca');
    cpSync(ex.caDir, scratchCa, { recursive: true });
    oldCrl = path.join(scratch, 'crl.number1.pem');
    copyFileSync(crlFileOf(ex.caDir), oldCrl);
  }, 120_000);
  afterAll(async () => {
    await ex?.stop();
  });

  /** A registration signed with Berlin's (revoked) key, carried over Bremen's connection: the hub's verifier judges the signature first. */
  const signedByBerlin = async () => {
    const berlin = ex.party(BERLIN);
    return codeOf(await submit(bremen, asProducer(registered(birthOf('11007007', `R${++n}`)), berlin), berlin.signer));
  };
  /** Whether Berlin's revoked certificate gets a NATS connection (the hub regenerates the nats-server's users from its CRL). */
  const berlinConnects = async () => {
    try {
      const nc = await ex.connectAs(BERLIN, { reconnect: false, timeout: 3000 });
      await nc.close();
      return true;
    } catch {
      return false;
    }
  };
  const metrics = async () => (await fetch(`http://127.0.0.1:${ex.metricsPort}/metrics`)).text();
  const alert = async () => /^elfe_crl_alert\{reason="([^"]+)"\} 1$/m.exec(await metrics())?.[1];

  it('revoked with `elfe pki revoke`: signatures and the NATS connection of the certificate are refused', async () => {
    expect(await signedByBerlin()).not.toBe('certificate-revoked');
    const revoked = await runElfe(['pki', 'revoke', ex.party(BERLIN).serial, '--dir', ex.caDir]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(readCrl(ex.caDir).crlNumber).toBe(2);
    revokingCrl = path.join(path.dirname(oldCrl), 'crl.number2.pem');
    copyFileSync(crlFileOf(ex.caDir), revokingCrl);
    await until(async () => (await signedByBerlin()) === 'certificate-revoked', { what: 'the revoked signature refused' });
    await until(async () => !(await berlinConnects()), { what: 'the revoked certificate refused by the nats-server' });
    expect(await alert()).toBeUndefined();
  });

  it('CRL rollback: the older CRL copied over the current one does not un-revoke the certificate; the hub alerts', async () => {
    copyFileSync(oldCrl, crlFileOf(ex.caDir)); // CRL number 1, correctly signed by the CA, without the revocation
    // Until the hub has judged the file: either it raises its alert, or (the flaw) the certificate is back.
    await until(async () => (await alert()) !== undefined || (await signedByBerlin()) !== 'certificate-revoked' || (await berlinConnects()), { what: 'the hub judged the older CRL' });
    expect(await signedByBerlin()).toBe('certificate-revoked');
    // The nats-server's users are regenerated every 2 s from a changed CRL: the revoked user stays out over several rounds.
    for (let i = 0; i < 3; i++) {
      expect(await berlinConnects(), 'the revoked certificate connects to NATS again').toBe(false);
      await new Promise((r) => setTimeout(r, 1500));
    }
    expect(await alert()).toBe('crl-rollback');
    expect(await metrics()).toMatch(/^elfe_crl_refused_total\{reason="crl-rollback"\} [1-9]/m);
    expect(await metrics()).toMatch(/^elfe_crl_number 2$/m);
    expect(ex.hub.stderr).toMatch(/"level":50[^\n]*"event":"trust\.crl-refused"[^\n]*"code":"crl-rollback"/);
  });

  it('stale CRL: a newer-numbered CRL whose nextUpdate passed a year ago is refused, the last good one stays in force', async () => {
    // A CRL without the revocation, numbered above every CRL seen (3), signed by the CA, but dated back a year and more.
    const longAgo = new Date(Date.now() - 400 * 86_400_000);
    await refreshCrl(scratchCa, { now: longAgo });
    const stale = await refreshCrl(scratchCa, { now: longAgo });
    expect(stale.crlNumber).toBe(3);
    expect(stale.serials.has(ex.party(BERLIN).serial)).toBe(false);
    expect(stale.nextUpdate.getTime()).toBeLessThan(Date.now() - 300 * 86_400_000);
    copyFileSync(crlFileOf(scratchCa), crlFileOf(ex.caDir));
    await until(async () => (await alert()) === 'crl-stale' || (await signedByBerlin()) !== 'certificate-revoked' || (await berlinConnects()), { what: 'the hub judged the stale CRL' });
    expect(await signedByBerlin()).toBe('certificate-revoked');
    for (let i = 0; i < 3; i++) {
      expect(await berlinConnects(), 'the revoked certificate connects to NATS again').toBe(false);
      await new Promise((r) => setTimeout(r, 1500));
    }
    expect(await alert()).toBe('crl-stale');
    expect(ex.hub.stderr).toMatch(/"level":50[^\n]*"event":"trust\.crl-refused"[^\n]*"code":"crl-stale"/);
  });

  it('a current CRL from the CA (`elfe pki crl`) is taken again and clears the alert; the certificate stays revoked', async () => {
    // The CA's own list back in its directory (number 2), then re-signed by the CA: number 3, current.
    copyFileSync(revokingCrl, crlFileOf(ex.caDir));
    const refreshed = await runElfe(['pki', 'crl', '--dir', ex.caDir]);
    expect(refreshed.code, refreshed.stderr).toBe(0);
    await until(async () => (await alert()) === undefined, { what: 'the alert cleared' });
    expect(await metrics()).toMatch(/^elfe_crl_number 3$/m);
    expect(await signedByBerlin()).toBe('certificate-revoked');
    expect(await berlinConnects()).toBe(false);
  });

  it('a party\'s trust (connectors/kit) does the same: the older CRL is refused and reported, the revocation holds, a restart over it fails', () => {
    const berlin = ex.party(BERLIN);
    const own = ex.party(BREMEN);
    const alerts: string[] = [];
    const options = { dir: own.dir, caCertFile: own.tls.caFile, crlFile: crlFileOf(ex.caDir), onCrlAlert: (code: string) => alerts.push(code) };
    const trust = certificateTrust(options);
    const payload = asProducer(registered(birthOf('11007007', 'P1')), berlin);
    expect(trust.verifier.verify(payload, berlin.signer.sign(payload))).toMatchObject({ success: false, error: { code: 'certificate-revoked' } });
    const current = path.join(path.dirname(oldCrl), 'crl.current.pem');
    copyFileSync(crlFileOf(ex.caDir), current);
    copyFileSync(oldCrl, crlFileOf(ex.caDir));
    expect(trust.verifier.verify(payload, berlin.signer.sign(payload))).toMatchObject({ success: false, error: { code: 'certificate-revoked' } });
    expect(alerts).toEqual(['crl-rollback']);
    expect(() => certificateTrust(options)).toThrow(expect.objectContaining({ code: 'crl-rollback' }));
    copyFileSync(current, crlFileOf(ex.caDir));
  });

  it('the highest CRL number seen is kept in the hub\'s directory: restarted over the older CRL, the hub does not start', async () => {
    await ex.hub.kill('SIGTERM');
    copyFileSync(oldCrl, crlFileOf(ex.caDir));
    const again = await runElfe(['hub', 'start', '--config', path.join(ex.hubDir, 'config.json')], { timeoutMs: 60_000 });
    expect(again.code).not.toBe(0);
    expect(again.stdout).not.toMatch(/^ready:/m);
    expect(again.stdout + again.stderr).toMatch(/crl-rollback/);
  }, 90_000);
});
