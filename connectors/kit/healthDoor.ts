// A connector's health door: a small HTTP endpoint on 127.0.0.1 for the machine's own
// monitoring. `GET /health` answers 200 while every component works and 503 from a failure
// until it works again, naming the components and their state as JSON; `GET /metrics` gives
// the same as Prometheus text (`elfe_component_failures_total`, `elfe_component_healthy`).
// Nothing personal: component names, counts and the failures' first lines only.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ComponentHealth } from './lifecycle.ts';

export interface HealthDoor {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

const escapeLabel = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The components' state in Prometheus text format. */
export function componentMetricsText(health: readonly ComponentHealth[], party: string): string {
  const labels = (h: ComponentHealth) => `{component="${escapeLabel(h.component)}",party="${escapeLabel(party)}"}`;
  return [
    '# HELP elfe_component_failures_total Failures of each running part of the connector (each logged at error level with its name)',
    '# TYPE elfe_component_failures_total counter',
    ...health.map((h) => `elfe_component_failures_total${labels(h)} ${h.failures}`),
    '# HELP elfe_component_healthy 1 while the component works, 0 from a failure until it succeeds again',
    '# TYPE elfe_component_healthy gauge',
    ...health.map((h) => `elfe_component_healthy${labels(h)} ${h.healthy ? 1 : 0}`),
    '',
  ].join('\n');
}

/** Opens the door on 127.0.0.1:`port` (0: any free port); rejects when the port cannot be bound. */
export function openHealthDoor(options: { readonly port: number; readonly party: string; readonly health: () => readonly ComponentHealth[] }): Promise<HealthDoor> {
  const server: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end('{"error":"method-not-allowed"}');
      return;
    }
    const health = options.health();
    if (url === '/health') {
      const unhealthy = health.filter((h) => !h.healthy).map((h) => h.component);
      const body = JSON.stringify({ status: unhealthy.length === 0 ? 'ok' : 'unhealthy', party: options.party, unhealthy, components: health });
      res.writeHead(unhealthy.length === 0 ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
    } else if (url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(componentMetricsText(health, options.party));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not-found","paths":["/health","/metrics"]}');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        stop: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
