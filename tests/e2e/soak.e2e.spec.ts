// The chaos soak's short version (`npm run soak -- --minutes N` runs the long one): every party
// of the exchange as its own process, births at a steady rate, a random process (hub, its
// nats-server, a connector, the watcher, the witness) killed with SIGKILL every few seconds and
// started again with its normal command. At the end every birth is registered, each delivery is
// in its inbox exactly once and acknowledged, `elfe audit verify` passes against the hub's
// latest checkpoint carrying the witness's cosignature, and the hub's and connectors' RSS and
// open file descriptors do not climb. CI's two shared cores carry the soak at 10 births/s
// while being killed (20/s, the long run's rate, leaves no room for the other jobs); the slope
// bounds here are loose (a 1.5-minute run with restarts every few seconds gives short process
// lifetimes), the long run's figures are in the README.
import { describe, expect, it } from 'vitest';
import { renderSoak, runSoak } from '../../bench/soak/soak.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

describe.skipIf(!natsAvailable)('the chaos soak, short', () => {
  it('1.5 minutes at 10 births/s with a SIGKILL every ~5 s: exactly once, all acknowledged, audit and witness consistent, RSS and fds flat', async () => {
    const result = await runSoak({ minutes: 1.5, rate: 10, killEveryMs: 5_000, drainTimeoutMs: 240_000, log: (line) => console.log(line) });
    console.log(renderSoak(result));
    expect(result.failures).toEqual([]);
    expect(result.births).toBeGreaterThan(800);
    // The Familienkasse's connector is soaked too: most births get their IdNr, each one hand-off.
    expect(result.idnrs).toBeGreaterThan(result.births / 2);
    expect(Object.values(result.kills).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(10);
    expect(result.kills.hub).toBeGreaterThan(0);
    for (const r of result.resources) {
      // Loose, and only over a lifetime of half a minute or more: a file descriptor leaked per
      // birth would climb by hundreds a minute; a few seconds after a restart say nothing.
      if (r.fds.perMinute !== undefined && r.fds.longestMs >= 30_000) expect(r.fds.perMinute, `${r.process} fds/min`).toBeLessThan(30);
      if (r.rss.perMinute !== undefined && r.rss.longestMs >= 30_000) expect(r.rss.perMinute / 2 ** 20, `${r.process} RSS MB/min`).toBeLessThan(60);
    }
  }, 900_000);
});
