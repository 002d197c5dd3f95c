// `elfe cluster nats`: three nodes from the exchange CA, each with its own TLS server
// certificate and configuration; a party's certificate connects (TLS, its own user), routes are
// TLS-verified, and SIGTERM stops every node.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { connectWithRetry } from '../../connectors/kit/natsConnection.ts';
import { createRequest } from '../../connectors/kit/credentials.ts';
import { freePort, startLocalNatsServer } from '../../hub/src/infra/nats/natsServer.ts';
import { enrolRequest, pkiInit } from '../../hub/src/pki/pki.ts';
import { provisionDistributed } from '../support/distributed.ts';
import { clusterBasePort, natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { PartyProcess, processAlive, until } from '../support/processes.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

describe.skipIf(!natsAvailable)('elfe cluster nats', () => {
  let cluster: PartyProcess | undefined;
  afterAll(async () => {
    await cluster?.kill('SIGTERM');
  });

  it('starts three TLS nodes with routes verified against the CA; parties connect with their certificates; SIGTERM stops all', async () => {
    const d = await provisionDistributed({ natsUrl: 'nats://127.0.0.1:4222', prefix: 'elfe-cluster-cli-' });
    const base = await clusterBasePort(3);
    cluster = new PartyProcess('cluster', ['cluster', 'nats', '--nodes', '3', '--dir', path.join(d.root, 'nats'), '--ca', d.exchange.caDir, '--base-port', String(base), '--json']);
    await cluster.ready(/^\{"url"/m, 60_000);
    const shown = JSON.parse(cluster.output.split('\n').find((l) => l.startsWith('{"url"'))!) as { url: string; replicas: number; nodes: { name: string; dir: string; pid: number }[] };
    expect(shown.replicas).toBe(3);
    expect(shown.nodes.map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
    for (const n of shown.nodes) {
      const conf = readFileSync(path.join(n.dir, 'nats-server.conf'), 'utf8');
      expect(conf).toMatch(/verify_and_map: true/);
      // Routes only for node certificates: mapped to the node name, which only node certificates carry.
      expect(conf).toMatch(/cluster \{[\s\S]*tls \{[\s\S]*verify_and_map: true[\s\S]*authorization \{ user: "nats-node@routes\.elfe-hub\.invalid"[\s\S]*routes: \[/);
      const cert = new X509Certificate(readFileSync(path.join(n.dir, 'cert.pem')));
      expect(cert.verify(new X509Certificate(readFileSync(path.join(d.exchange.caDir, 'ca.cert.pem'))).publicKey)).toBe(true);
    }
    const egs = d.exchange.party('egs-11000000');
    const nc = await connectWithRetry({ servers: shown.url, tls: { caFile: path.join(d.exchange.caDir, 'ca.cert.pem'), certFile: path.join(egs.dir, 'cert.pem'), keyFile: path.join(egs.dir, 'key.pem') } }, () => undefined, 20);
    expect(nc.info?.tls_required).toBe(true);
    await nc.close();

    // A server whose certificate is from another CA cannot join: the nodes refuse its route.
    const rogueCa = path.join(d.root, 'rogue-ca');
    await pkiInit(rogueCa);
    const rogueDir = path.join(d.root, 'rogue');
    await createRequest(rogueDir, { tlsServer: true, name: 'rogue', serverNames: ['127.0.0.1'] });
    writeFileSync(path.join(rogueDir, 'cert.pem'), (await enrolRequest(rogueCa, readFileSync(path.join(rogueDir, 'request.csr'), 'utf8'))).certificatePem);
    const rogueTls = `tls { cert_file: ${JSON.stringify(path.join(rogueDir, 'cert.pem'))}, key_file: ${JSON.stringify(path.join(rogueDir, 'key.pem'))}, ca_file: ${JSON.stringify(path.join(rogueCa, 'ca.cert.pem'))}, verify: true, timeout: 5 }`;
    const rogue = await startLocalNatsServer({ storeDir: path.join(rogueDir, 'store'), serverName: 'rogue', extraConfig: `cluster { name: "elfe", listen: 127.0.0.1:${await freePort()}, ${rogueTls}, routes: ["nats-route://127.0.0.1:${base + 100}"] }` });
    try {
      const n1Log = path.join(shown.nodes[0]!.dir, 'nats-server.log');
      await until(() => /rogue|TLS route handshake error|certificate/i.test(readFileSync(n1Log, 'utf8')), { what: 'n1 refusing the rogue route', timeoutMs: 15_000 });
      expect(readFileSync(n1Log, 'utf8')).not.toMatch(/Route connection created[^\n]*rogue/);
      expect(readFileSync(n1Log, 'utf8')).toMatch(/TLS route handshake error/);
    } finally {
      await rogue.stop();
    }
    await cluster.kill('SIGTERM');
    await until(() => shown.nodes.every((n) => !processAlive(n.pid)), { what: 'every node stopped', timeoutMs: 15_000 });
  });
});
