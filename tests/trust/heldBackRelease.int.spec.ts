// A hand-off held back because the recipient had no usable certificate goes out as soon as the
// CA publishes one, without a restart of the hub. The exchange runs as operators run it: `elfe
// exchange init`, `elfe hub start`, the CA's `elfe pki sign` and the Elterngeldstelle's
// connector, each its own process; the test acts as the Standesamt (over TLS, with its own
// certificate and key) and reads the log read-only beside the running hub.
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRegisterKey, type BirthRegisteredData } from '../../contracts/index.ts';
import { registered, withdrawn } from '../../hub/src/routing/testing.ts';
import { asProducer, birthOf, codeOf, startLiveExchange, submit, waitFor, type LiveExchange, type LogRow } from '../support/liveExchange.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { filesIn, runElfe } from '../support/processes.ts';

const egs = 'egs-11000000';
const egsDvdv = 'egs:11000000';
const sta = 'sta-11007007';

/** The agency has its key and its request, but the CA has not issued its certificate yet. */
function withholdCertificate(root: string): void {
  const own = path.join(root, 'parties', egs, 'cert.pem');
  const pem = readFileSync(own, 'utf8');
  const issued = path.join(root, 'ca', 'issued');
  const file = readdirSync(issued).find((f) => readFileSync(path.join(issued, f), 'utf8') === pem);
  if (!file) throw new Error(`the CA did not issue ${own}`);
  unlinkSync(path.join(issued, file));
  unlinkSync(own);
}

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
  const heldBackLines = () => x.hub.stderr.split('\n').filter((l) => l.includes('"delivery.held-back"') && l.includes(egsDvdv)).length;

  it('is scheduled once the CA issues the certificate, without a restart; a withdrawal meanwhile still stops it', async () => {
    const standesamt = x.party(sta);
    const nc = await x.connectAs(sta);
    // Two births with the parents' consent to notify the Elterngeldstelle.
    const [kept, withdrawnBirth] = [birthOf('11007007', '801'), birthOf('11007007', '802')];
    for (const b of [kept, withdrawnBirth]) expect(codeOf(await submit(nc, asProducer(registered(b), standesamt), standesamt.signer))).toBe('ok');
    // Registered, and held back visibly: nothing scheduled for the Elterngeldstelle.
    await waitFor(() => heldBackLines() >= 2, 'both deliveries held back');
    expect(x.log().filter((r) => r.type === 'BirthRegistered')).toHaveLength(2);
    expect(scheduledTo(x.log(), egsDvdv, kept)).toEqual([]);
    expect(await metric('elfe_deliveries_held_back')).toBe(2);

    // The parents of the second child withdraw their consent while the delivery is held back.
    expect(codeOf(await submit(nc, asProducer(withdrawn(withdrawnBirth), standesamt), standesamt.signer))).toBe('ok');
    await waitFor(() => x.log().some((r) => r.type === 'ParentalConsentWithdrawn'), 'the withdrawal in the log');

    // The CA issues the Elterngeldstelle's certificate (the same command an operator runs).
    const hubPid = x.hub.pid;
    const egsDir = path.join(x.root, 'parties', egs);
    const signed = await runElfe(['pki', 'sign', path.join(egsDir, 'request.csr'), '--dir', x.caDir, '--out', path.join(egsDir, 'cert.pem')]);
    expect(signed.code, signed.stdout + signed.stderr).toBe(0);

    await waitFor(() => scheduledTo(x.log(), egsDvdv, kept).length > 0, 'the held-back delivery scheduled', 30_000);
    await waitFor(async () => (await metric('elfe_deliveries_held_back')) === 0, 'nothing held back any more', 30_000);
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
    await waitFor(() => filesIn(path.join(egsDir, 'inbox'), /\.xml$/).includes(`${delivery!.deliveryId}.xml`), 'the delivery in the inbox', 30_000);
    await waitFor(() => x.log().some((r) => r.type === 'DeliveryAcknowledged' && (r.event.data as { deliveryId?: string }).deliveryId === delivery!.deliveryId), 'the receipt in the log', 30_000);
    expect(filesIn(path.join(egsDir, 'inbox'), /\.xml$/)).toEqual([`${delivery!.deliveryId}.xml`]);
  });
});
