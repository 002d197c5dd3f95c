// A submission as a party sends it: on the party's own submit subject, the reply to the
// party's own inbox prefix, the only place the hub answers.
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { inboxPrefixOf, submitSubjectOf } from '../../contracts/index.ts';

let counter = 0;

export function requestAs(nc: NatsConnection, dvdv: string, body: string | Uint8Array, options: { timeout?: number } = {}): Promise<Msg> {
  const reply = `${inboxPrefixOf(dvdv)}.test${process.pid}x${counter++}x${Math.random().toString(36).slice(2)}`;
  return nc.request(submitSubjectOf(dvdv), body, { timeout: options.timeout ?? 5000, noMux: true, reply });
}
