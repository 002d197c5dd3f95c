// A hand-off held back because the recipient had no usable certificate goes out as soon as the
// CA publishes one, without a restart of the hub. The exchange runs as operators run it: `elfe
// exchange init`, `elfe hub start`, the CA's `elfe pki revoke` and `elfe pki sign --replaces` and the Elterngeldstelle's
// connector, each its own process; the test acts as the Standesamt (over TLS, with its own
// certificate and key) and reads the log read-only beside the running hub.
import { readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRegisterKey, type BirthRegisteredData } from '../../contracts/index.ts';
import { registered, withdrawn } from '../../hub/src/routing/testing.ts';
import { asProducer, birthOf, codeOf, startLiveExchange, submit, type LiveExchange, type LogRow } from '../support/liveExchange.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { filesIn, runElfe } from '../support/processes.ts';
import { until } from '../../hub/src/runner/until.ts';

const egs = 'egs-11000000';
const egsDvdv = 'egs:11000000';
const sta = 'sta-11007007';

/**
 * The agency has no usable certificate: the CA revoked the one `exchange init` issued (the agency
 * lost its key), and the agency has made a new key and request that the CA has not signed yet.
 */
async function withholdCertificate(root: string): Promise<void> {
  const dir = path.join(root, 'parties', egs);
  const held = (JSON.parse(readFileSync(path.join(root, 'ca', 'register.json'), 'utf8')) as { entries: { dvdv?: string; holder?: string }[] }).entries.find((e) => e.dvdv === egsDvdv)?.holder;
  if (!held) throw new Error(`the register names no holder of ${egsDvdv}`);
  oldSerial = held;
  const revoked = await runElfe(['pki', 'revoke', held, '--dir', path.join(root, 'ca'), '--reason', 'keyCompromise']);
  if (revoked.code !== 0) throw new Error(`elfe pki revoke failed: ${revoked.stdout}${revoked.stderr}`);
  for (const f of ['cert.pem', 'key.pem', 'request.csr']) unlinkSync(path.join(dir, f));
  const requested = await runElfe(['pki', 'request', '--role', 'elterngeldstelle', '--dvdv', egsDvdv, '--name', 'Elterngeldstelle Berlin', '--out', dir]);
  if (requested.code !== 0) throw new Error(`elfe pki request failed: ${requested.stdout}${requested.stderr}`);
}
let oldSerial = '';

type Scheduled = { deliveryId: string; registerKey: Parameters<typeof formatRegisterKey>[0]; recipient: { dvdv: string } };
const scheduledTo = (rows: readonly LogRow[], dvdv: string, b: BirthRegisteredData) =>
  rows
    .filter((r) => r.type === 'DeliveryScheduled')
    .map((r) => r.event.data as unknown as Scheduled)
    .filter((d) => d.recipient.dvdv === dvdv && formatRegisterKey(d.registerKey) === formatRegisterKey(b.registerKey));

describe.skipIf(!natsAvailable)('a hand-off held back for want of a certificate', () => {
  let x: LiveExchange;
  beforeAll(async () => {
    x = await startLiveExchange('held-back', { beforeHub: withholdCertificate });
  });
  afterAll(async () => {
    await x?.stop();
  });

  const metric = async (name: string): Promise<number | undefined> => {
    const text = await (await fetch(`http://127.0.0.1:${x.metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };
  const certificateHolds = 'elfe_cases_held_back{role="elterngeldstelle",reason="certificate"}';
  const heldBackLines = () => x.hub.stderr.split('\n').filter((l) => l.includes('"delivery.held-back"') && l.includes(egsDvdv)).length;

  it('is scheduled once the CA issues the certificate, without a restart; a withdrawal meanwhile still stops it', async () => {
    const standesamt = x.party(sta);
    const nc = await x.connectAs(sta);
    // Two births with the parents' consent to notify the Elterngeldstelle.
    const [kept, withdrawnBirth] = [birthOf('11007007', '801'), birthOf('11007007', '802')];
    for (const b of [kept, withdrawnBirth]) expect(codeOf(await submit(nc, asProducer(registered(b), standesamt), standesamt.signer))).toBe('ok');
    // Registered, and held back visibly: nothing scheduled for the Elterngeldstelle.
    await until(() => heldBackLines() >= 2, { what: 'both deliveries held back' });
    expect(x.log().filter((r) => r.type === 'BirthRegistered')).toHaveLength(2);
    expect(scheduledTo(x.log(), egsDvdv, kept)).toEqual([]);
    expect(await metric('elfe_deliveries_held_back')).toBe(2);
    // Counted apart from the cases waiting for an IdNr: held back for the recipient's certificate.
    expect(await metric(certificateHolds)).toBe(2);
    expect(await metric('elfe_cases_held_back{role="familienkasse",reason="certificate"}')).toBeUndefined();

    // The parents of the second child withdraw their consent while the delivery is held back.
    expect(codeOf(await submit(nc, asProducer(withdrawn(withdrawnBirth), standesamt), standesamt.signer))).toBe('ok');
    await until(() => x.log().some((r) => r.type === 'ParentalConsentWithdrawn'), { what: 'the withdrawal in the log' });

    // The CA issues the Elterngeldstelle's certificate (the same command an operator runs).
    const hubPid = x.hub.pid;
    const egsDir = path.join(x.root, 'parties', egs);
    // The address is held by the revoked certificate: the new key takes it over only by an explicit rotation.
    const sign = (more: string[]) => runElfe(['pki', 'sign', path.join(egsDir, 'request.csr'), '--dir', x.caDir, '--out', path.join(egsDir, 'cert.pem'), '--yes', ...more]);
    const refused = await sign([]);
    expect(JSON.parse(refused.stdout.trim().split('\n').at(-1)!)).toMatchObject({ error: { code: 'address-held' } });
    const signed = await sign(['--replaces', oldSerial]);
    expect(signed.code, signed.stdout + signed.stderr).toBe(0);

    await until(() => scheduledTo(x.log(), egsDvdv, kept).length > 0, { what: 'the held-back delivery scheduled', timeoutMs: 30_000 });
    await until(async () => (await metric('elfe_deliveries_held_back')) === 0, { what: 'nothing held back any more', timeoutMs: 30_000 });
    expect((await metric(certificateHolds)) ?? 0).toBe(0);
    // The same hub process, started once.
    expect(x.hub.pid).toBe(hubPid);
    expect(x.hub.running).toBe(true);
    expect(x.hub.output.match(/^ready:/gm)).toHaveLength(1);
    const rows = x.log();
    const [delivery] = scheduledTo(rows, egsDvdv, kept);
    expect(scheduledTo(rows, egsDvdv, kept)).toHaveLength(1);
    // The withdrawal that came meanwhile still stops the other one.
    expect(scheduledTo(rows, egsDvdv, withdrawnBirth)).toEqual([]);
    const released = x.hub.stderr.split('\n').filter((l) => l.includes('"delivery.released"')).map((l) => (JSON.parse(l) as { outcome: string }).outcome);
    expect(released.sort()).toEqual(['dropped', 'scheduled']);

    // The Elterngeldstelle, now with its certificate, receives it and acknowledges it.
    await x.startConnector(egs);
    await until(() => filesIn(path.join(egsDir, 'inbox'), /\.xml$/).includes(`${delivery!.deliveryId}.xml`), { what: 'the delivery in the inbox', timeoutMs: 30_000 });
    await until(() => x.log().some((r) => r.type === 'DeliveryAcknowledged' && (r.event.data as { deliveryId?: string }).deliveryId === delivery!.deliveryId), { what: 'the receipt in the log', timeoutMs: 30_000 });
    expect(filesIn(path.join(egsDir, 'inbox'), /\.xml$/)).toEqual([`${delivery!.deliveryId}.xml`]);
  });
});
