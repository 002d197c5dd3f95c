// Operators' metrics in the Prometheus text format on a local HTTP port: log size, deliveries,
// receipts, refusals, and the days left on every certificate (so that an expiring certificate
// shows on a dashboard well before it stops deliveries).
import http from 'node:http';
import { createHistogram } from 'node:perf_hooks';

export interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly samples: readonly { readonly labels?: Readonly<Record<string, string>>; readonly value: number }[];
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export function renderMetrics(metrics: readonly Metric[]): string {
  const lines: string[] = [];
  for (const m of metrics) {
    lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of m.samples) {
      const labels = s.labels && Object.keys(s.labels).length > 0 ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      lines.push(`${m.name}${labels} ${Number.isFinite(s.value) ? s.value : 'NaN'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export interface MetricsServer {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startMetricsServer(port: number, collect: () => Promise<readonly Metric[]>): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    collect().then(
      (metrics) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics(metrics)),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * How long work waited for this process's one thread: the lateness of a 10 ms timer, as p50, p99
 * and max since the previous scrape (then started afresh). perf_hooks' monitorEventLoopDelay
 * missed a single long hold-up on Node 20. A hub whose loop is held up (a long synchronous task,
 * a collection of garbage) delays every submission, hand-off and receipt in flight at once.
 */
export function eventLoopDelayMetrics(): { readonly scrape: () => Metric[]; stop(): void } {
  const histogram = createHistogram();
  const everyMs = 10;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    histogram.record(Math.max(1, Math.round((now - last - everyMs) * 1e6)));
    last = now;
  }, everyMs);
  timer.unref();
  const scrape = (): Metric[] => {
    const seconds = (ns: number) => (histogram.count > 0 ? ns / 1e9 : 0);
    const samples = [
      { labels: { quantile: '0.5' }, value: seconds(histogram.percentile(50)) },
      { labels: { quantile: '0.99' }, value: seconds(histogram.percentile(99)) },
      { labels: { quantile: '1' }, value: seconds(histogram.max) },
    ];
    histogram.reset();
    return [{ name: 'elfe_event_loop_delay_seconds', help: "Delay of the process's event loop since the previous scrape (p50, p99, max)", type: 'gauge', samples }];
  };
  return { scrape, stop: () => clearInterval(timer) };
}
