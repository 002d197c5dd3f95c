// The connection limiter against a stand-in monitoring endpoint: blocks a user over the limit
// once, never the exempt ones, and releases it when its time is up.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionLimiter } from './natsServer.ts';

describe('connection limiter', () => {
  let connections: { authorized_user?: string }[] = [];
  let server: http.Server;
  let url = '';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.writeHead(req.url?.startsWith('/connz?auth=true') ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify({ connections }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('blocks a user over the limit, not the exempt ones, and releases it after the block', async () => {
    let now = 0;
    const events: string[] = [];
    const limiter = connectionLimiter({
      monitorUrl: url,
      maxPerCertificate: 2,
      blockMs: 1000,
      exempt: (u) => u.startsWith('hub'),
      onChange: () => events.push(`change:${[...limiter.blocked].join(',')}`),
      onBlocked: (u, n) => events.push(`blocked:${u}:${n}`),
      onReleased: (u) => events.push(`released:${u}`),
      now: () => now,
    });
    connections = [...Array(3).fill({ authorized_user: 'a' }), ...Array(2).fill({ authorized_user: 'b' }), ...Array(5).fill({ authorized_user: 'hub' }), {}];
      await limiter.check();
      expect(events).toEqual(['blocked:a:3', 'change:a']);
      await limiter.check(); // still over (not yet reloaded): no second block
      expect(limiter.stats.blocks).toBe(1);
      connections = [];
      now = 1000;
      await limiter.check();
      expect(events.slice(2)).toEqual(['released:a', 'change:']);
      expect(limiter.blocked.size).toBe(0);
  });

  it('fails its round, loudly, when the monitoring endpoint does not answer', async () => {
    const limiter = connectionLimiter({ monitorUrl: 'http://127.0.0.1:9', maxPerCertificate: 2, blockMs: 1000, exempt: () => false, onChange: () => {}, onBlocked: () => {} });
    await expect(limiter.check()).rejects.toThrow();
  });
});
