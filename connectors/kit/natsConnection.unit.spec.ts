import { describe, expect, it } from 'vitest';
import { clusterVersionWarning, natsConnectOptions } from './natsConnection.ts';

describe('clusterVersionWarning', () => {
  it('warns for a clustered nats-server below 2.11, naming version and cluster', () => {
    expect(clusterVersionWarning({ version: '2.10.27', cluster: 'elfe' })).toMatch(/2\.10\.27.*cluster elfe.*2\.11/);
  });
  it('is silent for 2.11 and later, and for a single node', () => {
    expect(clusterVersionWarning({ version: '2.11.0', cluster: 'elfe' })).toBeUndefined();
    expect(clusterVersionWarning({ version: '2.15.1', cluster: 'elfe' })).toBeUndefined();
    expect(clusterVersionWarning({ version: '3.0.0', cluster: 'elfe' })).toBeUndefined();
    expect(clusterVersionWarning({ version: '2.10.27' })).toBeUndefined();
    expect(clusterVersionWarning(undefined)).toBeUndefined();
  });
});

describe('natsConnectOptions', () => {
  it('connects without async traces, reconnecting for ever, to each server of a list', () => {
    const options = natsConnectOptions({ servers: 'tls://a:4222, tls://b:4222,', name: 'egs 11000000' });
    expect(options).toMatchObject({ noAsyncTraces: true, maxReconnectAttempts: -1, name: 'egs 11000000', servers: ['tls://a:4222', 'tls://b:4222'] });
  });
  it("keeps what the caller sets over the defaults", () => {
    expect(natsConnectOptions({ servers: ['nats://a:4222'], noAsyncTraces: false, maxReconnectAttempts: 3 })).toMatchObject({ noAsyncTraces: false, maxReconnectAttempts: 3 });
  });
});
