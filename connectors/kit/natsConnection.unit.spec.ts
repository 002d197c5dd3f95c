import { describe, expect, it } from 'vitest';
import { clusterVersionWarning } from './natsConnection.ts';

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
