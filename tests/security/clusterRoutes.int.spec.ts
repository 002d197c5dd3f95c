// Cluster routes only for nodes: `elfe cluster nats` runs two nodes of the exchange CA; a rogue
// nats-server started with an ordinary Standesamt certificate of the same CA dials a node's
// route port. It must not become part of the cluster (its own client sees none of the
// exchange's traffic), while the real nodes still form the cluster (a submission published on
// one node reaches the hub's subscription on the other). A node whose node certificate is revoked
// loses its routes (the nodes pin the keys of valid, unrevoked node certificates).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { inboxPrefixOf, submitSubjectOf } from '../../contracts/index.ts';
import { freePort, startLocalNatsServer, type LocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { verifyIssuanceLog } from '../../hub/src/pki/register.ts';
import { provisionDistributed } from '../support/distributed.ts';
import { clusterBasePort, natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { PartyProcess, runElfe, until } from '../support/processes.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const read = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

describe.skipIf(!natsAvailable)('cluster routes only for nodes', () => {
  let cluster: PartyProcess | undefined;
  let rogue: LocalNatsServer | undefined;
  const connections: NatsConnection[] = [];
  afterAll(async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    await rogue?.stop();
    await cluster?.kill('SIGTERM');
  });

  it('a node started with a Standesamt certificate of the exchange CA forms no route and sees no traffic; the real nodes form the cluster; a node whose certificate is revoked loses its routes', async () => {
    const d = await provisionDistributed({ natsUrl: 'nats://127.0.0.1:4222', prefix: 'elfe-rogue-node-' });
    const caFile = path.join(d.exchange.caDir, 'ca.cert.pem');
    const base = await clusterBasePort(2);
    cluster = new PartyProcess('cluster', ['cluster', 'nats', '--nodes', '2', '--dir', path.join(d.root, 'nats'), '--ca', d.exchange.caDir, '--base-port', String(base), '--json']);
    await cluster.ready(/^\{"url"/m, 60_000);
    const shown = JSON.parse(cluster.output.split('\n').find((l) => l.startsWith('{"url"'))!) as { nodes: { name: string; client: number; route: number; dir: string }[] };
    const [n1, n2] = shown.nodes as [(typeof shown.nodes)[number], (typeof shown.nodes)[number]];
    const n1Log = path.join(n1.dir, 'nats-server.log');
    await until(() => /Route connection created/.test(read(n1Log)), { what: 'the real nodes routed to each other', timeoutMs: 20_000 });
    // Each node's certificate is a node certificate, entered in the CA's signed issuance log.
    const issuance = verifyIssuanceLog(d.exchange.caDir, read(caFile));
    expect(issuance.valid, issuance.problem).toBe(true);
    expect(issuance.entries.filter((e) => e.action === 'issue' && e.kind === 'nats-node')).toHaveLength(2);

    // The rogue: an ordinary Standesamt's key and certificate as its route identity, the exchange CA as its trust.
    const sta = path.join(d.root, 'parties', 'sta-11007007');
    const rogueDir = path.join(d.root, 'rogue');
    const rogueLog = path.join(rogueDir, 'nats-server.log');
    const rogueTls = `tls { cert_file: ${JSON.stringify(path.join(sta, 'cert.pem'))}, key_file: ${JSON.stringify(path.join(sta, 'key.pem'))}, ca_file: ${JSON.stringify(caFile)}, verify: true, timeout: 5 }`;
    const monitor = await freePort();
    rogue = await startLocalNatsServer({
      storeDir: rogueDir,
      serverName: 'rogue',
      extraConfig: `log_file: ${JSON.stringify(rogueLog)}\nhttp: "127.0.0.1:${monitor}"\ncluster { name: "elfe", listen: 127.0.0.1:${await freePort()}, ${rogueTls}, routes: ["nats-route://127.0.0.1:${n1.route}"] }`,
    });
    // Until the node has judged the rogue's route: established (the flaw), or refused.
    const rogueRoutes = async () => ((await (await fetch(`http://127.0.0.1:${monitor}/routez`)).json()) as { num_routes: number }).num_routes;
    // (Refused at the TLS handshake, its key not being a node's pinned one, or at the mapping to the node name.)
    const refusedRogue = () => /Authorization Violation/.test(read(rogueLog)) || /certificate not pinned/.test(read(n1Log));
    await until(async () => refusedRogue() || (await rogueRoutes()) > 0, { what: 'n1 judged the rogue route', timeoutMs: 20_000 });
    const rogueClient = await connect({ servers: rogue.url });
    connections.push(rogueClient);
    const stolen: Msg[] = [];
    rogueClient.subscribe('>', { callback: (_, m) => void stolen.push(m) });
    await rogueClient.flush();

    // A Standesamt submits on n1; the hub listens on n2.
    const tlsOf = (dir: string) => ({ caFile, certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') });
    const hub = await connect({ servers: `nats://127.0.0.1:${n2.client}`, tls: tlsOf(d.exchange.hubDir) });
    const berlin = await connect({ servers: `nats://127.0.0.1:${n1.client}`, tls: tlsOf(sta), inboxPrefix: inboxPrefixOf('psw:11007007') });
    connections.push(hub, berlin);
    const subject = submitSubjectOf('psw:11007007');
    const seen: string[] = [];
    hub.subscribe(subject, { callback: (_, m) => void seen.push(new TextDecoder().decode(m.data)) });
    await hub.flush();
    await until(async () => {
        berlin.publish(subject, 'marker');
        await berlin.flush();
        await hub.flush();
        return seen.length > 0;
      }, { what: 'a submission on n1 reaching the hub on n2', timeoutMs: 20_000 });
    // The rogue's client saw nothing of it (its round trip ends after the route would have delivered).
    await berlin.flush();
    await rogueClient.flush();
    expect(stolen.map((m) => m.subject).filter((s) => !s.startsWith('$SYS')), 'exchange traffic seen on the rogue node').toEqual([]);
    expect(await rogueRoutes(), 'routes of the rogue node').toBe(0);
    expect(refusedRogue(), 'the rogue route refused (not pinned, or not mapped to the node name)').toBe(true);

    // A node whose own node certificate is revoked loses its routes (the nodes pin the keys of valid, unrevoked node certificates).
    const n2Serial = new X509Certificate(readFileSync(path.join(n2.dir, 'cert.pem'))).serialNumber;
    const n2Log = path.join(n2.dir, 'nats-server.log');
    const [from1, from2] = [read(n1Log).length, read(n2Log).length];
    const revoked = await runElfe(['pki', 'revoke', n2Serial, '--dir', d.exchange.caDir]);
    expect(revoked.code, revoked.stderr).toBe(0);
    await until(() => /Router connection closed/.test(read(n1Log).slice(from1)) && /Router connection closed/.test(read(n2Log).slice(from2)), { what: 'the revoked node\'s routes closed', timeoutMs: 20_000 });
    // The nodes reload one after the other: wait until three rounds in a row carry nothing across, then check three more.
    const round = async (i: number) => {
      const before = seen.length;
      berlin.publish(subject, `after-${i}`);
      await berlin.flush();
      await hub.flush();
      await new Promise((r) => setTimeout(r, 500));
      return seen.length === before;
    };
    let quiet = 0;
    for (let i = 0; quiet < 3; i++) {
      if (i > 40) throw new Error(`submissions on n1 still reach n2 after its node certificate was revoked: ${seen.join(', ')}`);
      quiet = (await round(i)) ? quiet + 1 : 0;
    }
    seen.length = 0;
    for (let i = 100; i < 103; i++) await round(i);
    expect(seen, 'submissions on n1 reaching n2 after its node certificate was revoked').toEqual([]);
  }, 120_000);
});
