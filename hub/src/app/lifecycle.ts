// The hub's side of the lifecycle (connectors/kit/lifecycle.ts): its components' failures as a
// metric, and the start-step fault seam. Every running part of the hub (log, lease,
// nats-server, ingress, scheduler, relay, receipts, read side, API, retention, watchers)
// starts as a named step of startHub and reports its failures to one Lifecycle.
import type { Lifecycle } from '../../../connectors/kit/lifecycle.ts';
import type { Metric } from './metrics.ts';

export { createLifecycle, startSteps, StartStepError, type Lifecycle, type ComponentHealth } from '../../../connectors/kit/lifecycle.ts';

/** `elfe_component_failures_total{component}` and `elfe_component_healthy{component}`. */
export function componentMetrics(lifecycle: Lifecycle): Metric[] {
  const health = lifecycle.health();
  return [
    { name: 'elfe_component_failures_total', help: 'Failures of each running part of the hub (each logged at error level with its name)', type: 'counter', samples: health.map((h) => ({ labels: { component: h.component }, value: h.failures })) },
    { name: 'elfe_component_healthy', help: '1 while the component works, 0 from a failure until it succeeds again', type: 'gauge', samples: health.map((h) => ({ labels: { component: h.component }, value: h.healthy ? 1 : 0 })) },
  ];
}

/**
 * Test seam: `ELFE_FAIL_AT_START_STEP=<step>` makes that step of `elfe hub start` fail, so that
 * tests can show a failed start leaves nothing running. Never set in operation.
 */
export const failAtFromEnv = (): string | undefined => process.env['ELFE_FAIL_AT_START_STEP'] || undefined;
