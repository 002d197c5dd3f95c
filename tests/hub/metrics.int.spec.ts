import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../../hub/src/app/metrics.ts';
import { startHub } from '../../hub/src/app/hub.ts';
import { provisionExchange } from '../../hub/src/app/exchange.ts';
import { loadConfig } from '../../hub/src/config/config.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { natsAvailable } from '../support/natsServer.ts';

describe('metrics', () => {
  it('renders the Prometheus text format with escaped labels', () => {
    expect(renderMetrics([{ name: 'x_total', help: 'X', type: 'counter', samples: [{ labels: { subject: 'O="a"' }, value: 3 }] }])).toBe(
      '# HELP x_total X\n# TYPE x_total counter\nx_total{subject="O=\\"a\\""} 3\n',
    );
  });

  it.skipIf(!natsAvailable)('a running hub reports its log, deliveries and the days left on each certificate', async () => {
    const exchange = await provisionExchange(mkdtempSync(path.join(os.tmpdir(), 'elfe-metrics-')), { natsPort: await freePort(), metricsPort: 0 });
    const hub = await startHub(loadConfig(exchange.hubConfigFile));
    try {
      const text = await (await fetch(`http://127.0.0.1:${hub.metricsPort}/metrics`)).text();
      expect(text).toMatch(/^elfe_log_entries \d+$/m);
      expect(text).toMatch(/^elfe_deliveries_total\{outcome="scheduled"\} 0$/m);
      expect(text).toMatch(/^elfe_certificate_expiry_days\{serial="[0-9A-F]+",subject="CN=egs:11000000[^"]*"\} 36[45]$/m);
    } finally {
      await hub.stop();
    }
  });
});
