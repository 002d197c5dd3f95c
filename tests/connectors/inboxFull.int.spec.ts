// A full disk under an agency connector's inbox (a small tmpfs mounted there): the delivery is
// not acknowledged while its file cannot be written, and not used up either (no dead letter
// after max_deliver attempts, however long the disk stays full); the connector says so once,
// keeps running, and the delivery arrives in the inbox, acknowledged, once space is freed.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registered } from '../../hub/src/routing/testing.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { fillUpTo, mountTmpfs, tmpfsRefused, unmount } from '../support/tmpfs.ts';
import { asProducer, birthOf, caseStream, codeOf, startLiveExchange, submit, type LiveExchange } from '../support/liveExchange.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);
if (tmpfsRefused) console.warn(`skipped: ${tmpfsRefused}`);

const BERLIN = 'sta-11007007';
const EGS = 'egs-11000000';

describe.skipIf(!natsAvailable || tmpfsRefused !== undefined)('an agency connector on a full disk', () => {
  let ex: LiveExchange | undefined;
  let mounted: string | undefined;
  afterAll(async () => {
    await ex?.stop();
    if (mounted) unmount(mounted);
  });

  it('holds the delivery unacknowledged while its inbox is full and delivers it once space is back', async () => {
    ex = await startLiveExchange('inboxfull');
    const live = ex;
    const inbox = path.join(live.party(EGS).dir, 'inbox');
    const refused = mountTmpfs(inbox, '1m');
    if (refused) throw new Error(refused);
    mounted = inbox;
    const connector = await live.startConnector(EGS);
    const filler = path.join(inbox, 'filler');
    fillUpTo(filler, 1024);

    const berlin = await live.connectAs(BERLIN);
    const birth = birthOf('11007007', 'V1');
    expect(codeOf(await submit(berlin, asProducer(registered(birth), live.party(BERLIN)), live.party(BERLIN).signer))).toBe('ok');
    const scheduled = () => live.log().find((r) => r.stream === caseStream(birth) && r.type === 'DeliveryScheduled' && (r.event.data as { recipient?: { dvdv?: string } }).recipient?.dvdv === 'egs:11000000');
    await until(() => scheduled() !== undefined, { what: 'the delivery to the Elterngeldstelle scheduled' });
    const deliveryId = (scheduled()!.event.data as { deliveryId: string }).deliveryId;
    await until(() => connector.output.includes(deliveryId), { what: 'the connector tried the delivery', timeoutMs: 20_000 });
    // Longer than max_deliver (5) redeliveries a second apart would take, and than the ack wait
    // (30 s) after which JetStream would send it again: the delivery is held, not used up.
    await new Promise((r) => setTimeout(r, 35_000));
    const answered = (type: string) => live.log().some((r) => r.type === type && (r.event.data as { deliveryId?: string }).deliveryId === deliveryId);
    expect(answered('DeliveryDeadLettered'), connector.output).toBe(false);
    expect(answered('DeliveryAcknowledged')).toBe(false);
    expect(readdirSync(inbox).filter((f) => f !== 'filler')).toEqual([]);
    expect(connector.output.match(/storage full: /g)?.length, connector.output).toBe(1);
    expect(connector.running).toBe(true);

    rmSync(filler);
    await until(() => existsSync(path.join(inbox, `${deliveryId}.xml`)), { what: 'the delivery in the inbox once space is back', timeoutMs: 20_000 });
    await until(() => answered('DeliveryAcknowledged'), { what: 'the delivery acknowledged', timeoutMs: 20_000 });
    expect(answered('DeliveryDeadLettered')).toBe(false);
    expect(connector.output).toMatch(/storage writable again/);
  }, 180_000);
});
