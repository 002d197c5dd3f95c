import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.ts';

describe('hub configuration beyond one machine', () => {
  it('takes one NATS URL, a comma-separated list or an array, and the replicas of the streams', () => {
    expect(parseConfig({ nats: { url: 'nats://a:4222' } }).nats).toMatchObject({ url: 'nats://a:4222', replicas: 1 });
    expect(parseConfig({ nats: { url: 'nats://a:4222,nats://b:4222', replicas: 3 } }).nats.replicas).toBe(3);
    expect(parseConfig({ nats: { url: ['nats://a:4222', 'nats://b:4222', 'nats://c:4222'], replicas: 3 } }).nats.url).toHaveLength(3);
    expect(() => parseConfig({ nats: { url: 'nats://a:4222,not a url' } })).toThrow(ConfigError);
    expect(() => parseConfig({ nats: { replicas: 0 } })).toThrow(ConfigError);
  });

  it('keeps the log in SQLite by default, or in PostgreSQL with the lease settings', () => {
    expect(parseConfig({}).log.store).toEqual({ kind: 'sqlite' });
    expect(parseConfig({ log: { store: { kind: 'postgres', url: 'postgres://elfe@db/elfe' } } }).log.store).toEqual({
      kind: 'postgres',
      url: 'postgres://elfe@db/elfe',
      schema: 'elfe',
      poolSize: 4,
      synchronousCommit: 'on',
      leaseTimeoutMs: 5000,
      leasePollMs: 500,
    });
    expect(() => parseConfig({ log: { store: { kind: 'postgres' } } })).toThrow(ConfigError);
    expect(() => parseConfig({ log: { store: { kind: 'kurrentdb', url: 'x' } } })).toThrow(ConfigError);
  });
});
