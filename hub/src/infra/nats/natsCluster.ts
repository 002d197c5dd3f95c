// A JetStream cluster of nats-servers on this machine (`elfe cluster nats`), for trying the
// distributed mode and for the tests: each node its own store directory, configuration and TLS
// server certificate from the exchange CA, the per-certificate users and per-role permissions of
// natsSecurityConfig on every node, and routes between the nodes over TLS, each side verifying
// the other's certificate against the CA and accepting only a node certificate (the dedicated
// node role, natsClusterConfig). Across machines each node runs the same configuration with its
// own host names in its certificate and in the routes.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { watchCaFiles } from '../../../../connectors/kit/caFiles.ts';
import { createRequest } from '../../../../connectors/kit/credentials.ts';
import { crlChecks } from '../../../../connectors/kit/trust.ts';
import { natsClusterConfig, natsSecurityConfig, type NatsPkiFiles } from '../../pki/natsConfig.ts';
import { isNodeCertificate, nodePins, signNodeRequest } from '../../pki/nodeCertificates.ts';
import { caCertFileOf, crlFileOf } from '../../pki/pki.ts';
import { freePort, startLocalNatsServer, type LocalNatsServer } from './natsServer.ts';

export interface NatsClusterOptions {
  /** Where the nodes live: `<dir>/n<i>/` holds a node's key, certificate, configuration and store. */
  readonly dir: string;
  /** The exchange CA's directory: it signs each node's TLS server certificate; its CRL and issued certificates make the users. */
  readonly caDir: string;
  readonly nodes?: number;
  /** Client ports; default free ports. */
  readonly clientPorts?: readonly number[];
  /** Route (cluster) ports; default free ports. */
  readonly routePorts?: readonly number[];
  /** Host names and addresses in the nodes' certificates. */
  readonly serverNames?: readonly string[];
  readonly clusterName?: string;
  /** How long after its nextUpdate the CRL in force still counts (default 24 h); older CRL numbers than seen are refused. */
  readonly crlGraceMs?: number;
  /** Restart a node that exits unexpectedly (the CLI); tests kill and restart nodes themselves. */
  readonly onExit?: (node: string, how: string) => void;
  /** The users follow the CA's files by themselves (their watcher); told after a reload, or of a failed one. */
  readonly onUsersReloaded?: () => void;
  readonly onUsersFailed?: (error: Error) => void;
}

export interface NatsClusterNode {
  readonly name: string;
  readonly dir: string;
  readonly clientPort: number;
  readonly routePort: number;
  readonly server: LocalNatsServer;
}

export interface NatsCluster {
  readonly nodes: readonly NatsClusterNode[];
  /** The client URLs, comma-separated (a hub's or connector's `nats.url`). */
  readonly url: string;
  node(name: string): NatsClusterNode;
  /** Regenerates every node's users from the CA's issued certificates and CRL; reloads the nodes whose users changed. */
  refreshUsers(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * The node's identity: a node certificate (the dedicated route role) issued by the CA once and
 * kept across restarts; a certificate of another kind left by an earlier version is replaced.
 */
async function nodeIdentity(caDir: string, dir: string, serverNames: readonly string[], name: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  if (!existsSync(certFile) || !isNodeCertificate(readFileSync(certFile, 'utf8'))) {
    if (!existsSync(keyFile)) await createRequest(dir, { tlsServer: true, name: `nats-server ${name}`, serverNames });
    const issued = await signNodeRequest(caDir, readFileSync(path.join(dir, 'request.csr'), 'utf8'));
    writeFileSync(certFile, issued.certificatePem);
  }
  return { certFile, keyFile };
}

export async function startNatsCluster(options: NatsClusterOptions): Promise<NatsCluster> {
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new RangeError('a cluster has 1 to 9 nodes');
  const clientPorts = options.clientPorts ?? (await Promise.all(Array.from({ length: count }, () => freePort())));
  const routePorts = options.routePorts ?? (await Promise.all(Array.from({ length: count }, () => freePort())));
  const serverNames = options.serverNames ?? ['127.0.0.1', 'localhost'];
  const clusterName = options.clusterName ?? 'elfe';
  const pki: NatsPkiFiles = { caCertFile: caCertFileOf(options.caDir), crlFile: crlFileOf(options.caDir), issuedDir: path.join(options.caDir, 'issued') };
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const specs = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const name = `n${i + 1}`;
      const dir = path.join(path.resolve(options.dir), name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const identity = await nodeIdentity(options.caDir, dir, serverNames, name);
      // One node alone runs without a cluster block (JetStream standalone).
      const cluster = (pinnedCerts: readonly string[]) =>
        count > 1
          ? natsClusterConfig({ name: clusterName, listen: `127.0.0.1:${routePorts[i]!}`, routes: routePorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`), tls: { ...identity, caFile: pki.caCertFile }, pinnedCerts })
          : '';
      const route = (pinnedCerts: readonly string[]) => `log_file: ${JSON.stringify(path.join(dir, 'nats-server.log'))}\n${cluster(pinnedCerts)}`;
      return { name, dir, identity, route, clientPort: clientPorts[i]!, routePort: routePorts[i]! };
    }),
  );
  // The users follow a checked CRL: an older or stale list is refused (logged at error level) and the last good one kept.
  const caFiles = watchCaFiles({
    caCertificatePem: readFileSync(pki.caCertFile, 'utf8'),
    crlFile: pki.crlFile,
    issuedDir: pki.issuedDir,
    crl: crlChecks({ dir: path.resolve(options.dir), ...(options.crlGraceMs === undefined ? {} : { crlGraceMs: options.crlGraceMs }) }),
  });
  const revocation = caFiles.revoked;
  // Routes only with the keys of node certificates that are valid and not revoked (none without a good CRL).
  const pins = () => (revocation.unusable ? [] : nodePins(caFiles.current().certificates, revocation()));
  const configOf = (spec: (typeof specs)[number]) => `${natsSecurityConfig(pki, spec.identity, new Date(), revocation, undefined, caFiles.current().certificates)}\n${spec.route(pins())}`;
  const current = new Map(specs.map((s) => [s.name, configOf(s)]));
  const nodes: NatsClusterNode[] = [];
  try {
    // Started together: JetStream in a cluster waits for its peers before it answers.
    const servers = await Promise.all(
      specs.map((spec) =>
        startLocalNatsServer({
          storeDir: spec.dir,
          port: spec.clientPort,
          serverName: `${clusterName}-${spec.name}`,
          extraConfig: current.get(spec.name)!,
          ...(options.onExit ? { onExit: (how: string) => options.onExit!(spec.name, how) } : {}),
        }),
      ),
    );
    specs.forEach((spec, i) => nodes.push({ name: spec.name, dir: spec.dir, clientPort: spec.clientPort, routePort: spec.routePort, server: servers[i]! }));
  } catch (error) {
    await Promise.all(nodes.map((n) => n.server.stop()));
    throw error;
  }
  const refreshUsers = async () => {
    let changed = false;
    for (const spec of specs) {
      const next = configOf(spec);
      if (next === current.get(spec.name)) continue;
      current.set(spec.name, next);
      changed = true;
      await nodes.find((n) => n.name === spec.name)!.server.reconfigure(next);
    }
    return changed;
  };
  // Issued and revoked certificates reach the users without a restart, one reload at a time.
  let reloading: Promise<unknown> = Promise.resolve();
  const unsubscribe = caFiles.subscribe(() => {
    reloading = reloading.then(refreshUsers).then(
      (changed) => changed && options.onUsersReloaded?.(),
      (error: Error) => options.onUsersFailed?.(error),
    );
  });
  return {
    nodes,
    url: nodes.map((n) => `nats://127.0.0.1:${n.clientPort}`).join(','),
    node(name) {
      const found = nodes.find((n) => n.name === name || `${clusterName}-${n.name}` === name);
      if (!found) throw new Error(`no node ${name}`);
      return found;
    },
    refreshUsers,
    async stop() {
      unsubscribe();
      caFiles.stop();
      await reloading;
      await Promise.all(nodes.map((n) => n.server.stop()));
    },
  };
}
