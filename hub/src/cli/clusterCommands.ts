// `elfe cluster nats`: a JetStream cluster on this machine, for trying the distributed mode and
// for the tests. Each node its own directory, configuration, store and TLS server certificate
// from the exchange CA; the users follow the CA's issued certificates and CRL (their files' watcher).
import path from 'node:path';
import { untilStopped } from '../../../connectors/kit/lifecycle.ts';
import { findNatsServer } from '../infra/nats/natsServer.ts';
import { startNatsCluster } from '../infra/nats/natsCluster.ts';
import { exitCode, parseCommandArgs, UsageError, type Command } from './command.ts';
import { reportingErrors } from './partyCommands.ts';

const clusterNats: Command = {
  path: ['cluster', 'nats'],
  summary: 'run a JetStream cluster of nats-servers on this machine (TLS, per-certificate users, TLS-verified routes) until SIGTERM',
  usage: 'elfe cluster nats [--nodes 3] --dir DIR [--base-port P] [--ca DIR] [--json]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, { nodes: { type: 'string' }, dir: { type: 'string' }, 'base-port': { type: 'string' }, ca: { type: 'string' }, json: { type: 'boolean' } });
      if (!values.dir) throw new UsageError('--dir DIR is required (the nodes\' directories and stores go there)');
      const nodes = Number(values.nodes ?? 3);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) throw new UsageError('--nodes must be a whole number from 1 to 9');
      const base = values['base-port'] === undefined ? undefined : Number(values['base-port']);
      if (base !== undefined && (!Number.isInteger(base) || base < 1024 || base + 100 + nodes > 65535)) throw new UsageError('--base-port must leave room for P..P+n-1 (clients) and P+100.. (routes)');
      if (!findNatsServer()) throw new UsageError('nats-server >= 2.10 not found: run scripts/setup.sh, or set ELFE_NATS_SERVER');
      const caDir = path.resolve(values.ca ?? path.join('data', 'ca'));
      const cluster = await startNatsCluster({
        dir: path.resolve(values.dir),
        caDir,
        nodes,
        ...(base !== undefined ? { clientPorts: Array.from({ length: nodes }, (_, i) => base + i), routePorts: Array.from({ length: nodes }, (_, i) => base + 100 + i) } : {}),
        onExit: (node, how) => io.err(`node ${node} exited (${how}); starting it again`),
        onUsersReloaded: () => io.err('certificates changed: reloaded the nodes\' users'),
        onUsersFailed: (error) => io.err(`cannot regenerate the users: ${error.message}`),
      });
      const shown = { url: cluster.url, replicas: nodes >= 3 ? 3 : nodes, nodes: cluster.nodes.map((n) => ({ name: n.name, client: n.clientPort, route: n.routePort, dir: n.dir, pid: n.server.pid() })) };
      if (values.json) io.out(JSON.stringify(shown));
      else {
        for (const n of shown.nodes) io.out(`node ${n.name}: client 127.0.0.1:${n.client}, route 127.0.0.1:${n.route}, ${n.dir}`);
        io.out(`ready: NATS cluster of ${nodes} nodes; hub and connectors: "nats": { "url": "${cluster.url}"${shown.replicas > 1 ? `, "replicas": ${shown.replicas}` : ''} }`);
      }
      const why = await untilStopped();
      io.err(`stopping (${why})`);
      await cluster.stop();
      return exitCode.ok;
    }, args.includes('--json')),
};

export const clusterCommands: readonly Command[] = [clusterNats];
