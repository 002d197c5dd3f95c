// Start failures as an operator meets them, each command run as its own process: a missing
// configuration, a configuration with a bad field, a missing identity (the hub's, its
// ingress responder's, the nats-server's, the API's), a busy port, a failure after the
// nats-server started. Each is one named line on stderr (JSON with --json), exit 2, and
// nothing is left running: no nats-server, no hub, no lock, no port held.
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, portFree } from '../../hub/src/infra/nats/natsServer.ts';
import { PartyProcess, type ChildGivenUp } from '../../hub/src/runner/partyProcess.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { pidsWith, runElfe, until } from '../support/processes.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

/** Holds a port as "another process" would (here: a listener of the test itself). */
async function holdPort(port: number): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** Nothing of a start in `dir` runs any more: no process names it, no lock is left. */
async function nothingLeft(dir: string, ports: number[] = []): Promise<void> {
  await until(() => pidsWith(dir).length === 0, { what: `every process of ${dir} gone`, timeoutMs: 10_000 });
  expect(existsSync(path.join(dir, 'hub', 'hub.lock'))).toBe(false);
  for (const port of ports) expect(await portFree(port), `port ${port} released`).toBe(true);
}

/** One readable line on stderr: `error (code): message. What to do: hint`, no stack trace. */
function expectNamed(stderr: string, code: string, message: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l.startsWith('error ('));
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toContain(`error (${code}): `);
  expect(lines[0]).toMatch(message);
  expect(lines[0]).toContain('What to do: ');
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe.skipIf(!natsAvailable)('start failures are named and clean', () => {
  let root: string;
  let template: string;
  let natsPort: number;
  let metricsPort: number;
  let copies = 0;
  /** A fresh copy of one laid-out exchange (laying out takes seconds; copying does not). */
  const exchangeCopy = () => {
    const dir = path.join(root, `x${++copies}`);
    cpSync(template, dir, { recursive: true });
    return dir;
  };

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'elfe-startfail-'));
    template = path.join(root, 'template');
    natsPort = await freePort();
    metricsPort = await freePort();
    const init = await runElfe(['exchange', 'init', '--data', template, '--nats-port', String(natsPort), '--metrics-port', String(metricsPort)], { timeoutMs: 120_000 });
    expect(init.code, init.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await until(() => pidsWith(root).length === 0, { what: 'no process left', timeoutMs: 10_000 });
  });

  it('a missing configuration file: named on stderr, exit 2, nothing on stdout', async () => {
    const run = await runElfe(['hub', 'start', '--config', path.join(root, 'nope.json')]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expectNamed(run.stderr, 'invalid-config', /nope\.json: cannot read configuration/);
  });

  it('a configuration with a bad field: the field is named; with --json one JSON object with code, message and hint', async () => {
    const file = path.join(root, 'bad.json');
    writeFileSync(file, JSON.stringify({ dataDir: root, nats: { port: 'four' } }));
    const run = await runElfe(['hub', 'start', '--config', file, '--json']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const error = (JSON.parse(run.stderr.trim().split('\n').pop()!) as { error: { code: string; message: string; hint: string } }).error;
    expect(error.code).toBe('invalid-config');
    expect(error.message).toMatch(/nats\.port/);
    expect(error.hint.length).toBeGreaterThan(10);
  });

  for (const [what, dir] of [
    ['the hub', 'hub/cert.pem'],
    ["the hub's ingress responder", 'hub/ingress'],
    ["the nats-server's TLS identity", 'parties/nats-server'],
    ["the API's TLS identity", 'hub/api'],
  ] as const) {
    it(`a missing identity of ${what}: named with the command that makes it, before any nats-server starts`, async () => {
      const x = exchangeCopy();
      const config = path.join(x, 'hub', 'config.json');
      if (dir === 'hub/api') writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), api: { port: await freePort() } }));
      renameSync(path.join(x, dir), path.join(x, `${dir}.away`));
      const run = await runElfe(['hub', 'start', '--config', config], { timeoutMs: 30_000 });
      expect(run.code, run.stderr).toBe(2);
      expectNamed(run.stderr, 'no-certificate', /no usable .* certificate in /);
      expect(run.stderr).toMatch(/What to do: elfe pki request .*--out /);
      expect(run.stderr).not.toMatch(/nats\.server-started/);
      await nothingLeft(x, [natsPort]);
      // Named again, not data-dir-locked: the failed start left nothing behind.
      const again = await runElfe(['hub', 'start', '--config', config], { timeoutMs: 30_000 });
      expect(again.stderr).toMatch(/error \(no-certificate\)/);
    });
  }

  it('a busy NATS port: "port P is in use by another process", exit 2, at once', async () => {
    const x = exchangeCopy();
    const other = await holdPort(natsPort);
    try {
      const startedAt = Date.now();
      const run = await runElfe(['hub', 'start', '--config', path.join(x, 'hub', 'config.json')], { timeoutMs: 30_000 });
      expect(run.code, run.stderr).toBe(2);
      expectNamed(run.stderr, 'port-in-use', new RegExp(`port ${natsPort} is in use by another process`));
      expect(Date.now() - startedAt).toBeLessThan(15_000);
      await nothingLeft(x);
    } finally {
      other.close();
    }
  });

  it('a failure after the nats-server started (the API cannot listen): the nats-server is stopped, the lock released, the next start gets as far', async () => {
    const x = exchangeCopy();
    const config = path.join(x, 'hub', 'config.json');
    // An address not on this machine: only the real listen fails, after the nats-server is up.
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), api: { port: await freePort(), host: '10.255.255.1' } }));
    for (let i = 0; i < 2; i++) {
      const run = await runElfe(['hub', 'start', '--config', config], { timeoutMs: 60_000 });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/nats\.server-started/);
      expectNamed(run.stderr, 'start-failed', /EADDRNOTAVAIL/);
      expect(run.stderr).not.toMatch(/data-dir-locked/);
      await nothingLeft(x, [natsPort, metricsPort]);
    }
  });

  it('elfe start on a busy port stops at once, naming the port, and starts no party', async () => {
    const x = exchangeCopy();
    const other = await holdPort(natsPort);
    try {
      const run = await runElfe(['start', '--data', x, '--api-port', String(await freePort()), '--json'], { timeoutMs: 60_000 });
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).not.toMatch(/running/);
      const error = (JSON.parse(run.stderr.trim().split('\n').pop()!) as { error: { code: string; message: string } }).error;
      expect(error).toMatchObject({ code: 'port-in-use', message: expect.stringContaining(`port ${natsPort} is in use by another process`) });
      await nothingLeft(x);
    } finally {
      other.close();
    }
  });
});

describe('a party with a restart policy is given up when it crash-loops', () => {
  it('backs off, gives up after the bounded number of tries, reports the last lines', async () => {
    const lines: string[] = [];
    let reported: ChildGivenUp | undefined;
    const startedAt = Date.now();
    // An unknown command: `elfe` says so and exits 64, every time.
    const broken = new PartyProcess('broken', ['no-such-command', '--crash-loop-test'], { onLine: (line) => lines.push(`[broken] ${line}`), restart: { maxTries: 3, onGiveUp: (g) => (reported = g) }, exitWithParent: true });
    const waited = broken.ready(broken.readyPattern, 60_000).then(
      () => 'ready',
      (error: Error) => error.message,
    );
    const given = await broken.failed;
    await broken.kill('SIGTERM');
    expect(given).toBe(reported);
    expect(given).toMatchObject({ name: 'broken', code: 64, tries: 3, refused: false });
    expect(given.lastLines.join('\n')).toMatch(/unknown command 'no-such-command --crash-loop-test'/);
    expect(await waited).toMatch(/broken died 3 times in a row/);
    expect(lines.filter((l) => /starting again in/.test(l))).toHaveLength(2);
    expect(Date.now() - startedAt).toBeGreaterThan(250 + 500);
    expect(pidsWith('--crash-loop-test')).toEqual([]);
  }, 60_000);

  it('a child that refuses to start (exit 2) is not started again', async () => {
    const hub = new PartyProcess('hub', ['hub', 'start', '--config', path.join(os.tmpdir(), 'elfe-no-such-config.json')], { restart: {} });
    const given = await hub.failed;
    await hub.kill('SIGTERM');
    expect(given).toMatchObject({ name: 'hub', code: 2, tries: 1, refused: true });
    expect(given.lastLines.join('\n')).toMatch(/error \(invalid-config\)/);
  }, 60_000);
});
