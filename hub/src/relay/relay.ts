// The relay: tails the log and publishes each `DeliveryScheduled` to JetStream, signed by
// the hub, one subject per recipient, with Nats-Msg-Id = delivery id. The log is the outbox:
// after a restart the relay resumes after the log position of the last message the stream
// holds, and JetStream's duplicate window absorbs the overlap. It never skips: while NATS is
// away it retries the same delivery.
import { headers } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { deliveryStream, deliverySubject, type Delivery, type Signer } from '../../../contracts/index.ts';
import type { EventStore, Subscription } from '../log/eventStore.ts';
import { fromRecord } from '../log/records.ts';

export const logPositionHeader = 'Elfe-Log-Position';

export interface RelayOptions {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly log: EventStore;
  readonly signer: Signer;
  readonly retryMs?: number;
}

export interface Relay {
  readonly stats: { published: number; duplicates: number; resumedFrom: number; position: number };
  stop(): Promise<void>;
}

/** Where to resume: one past the log position of the newest message in the delivery stream. */
export async function resumePosition(jsm: JetStreamManager): Promise<number> {
  const info = await jsm.streams.info(deliveryStream);
  if (info.state.messages === 0) return 0;
  const last = await jsm.streams.getMessage(deliveryStream, { seq: info.state.last_seq });
  const position = Number(last?.header.get(logPositionHeader));
  return Number.isSafeInteger(position) ? position + 1 : 0;
}

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const { js, jsm, log, signer } = options;
  const retryMs = options.retryMs ?? 250;
  const from = await resumePosition(jsm);
  const stats = { published: 0, duplicates: 0, resumedFrom: from, position: from };
  let stopping = false;
  const subscription: Subscription = log.subscribe(from);
  const done = (async () => {
    for await (const stored of subscription) {
      stats.position = stored.position + 1;
      if (stored.type !== 'DeliveryScheduled') continue;
      const event = fromRecord(stored);
      if (!event || event.type !== 'DeliveryScheduled') continue;
      const d = event.data;
      const delivery: Delivery = {
        deliveryId: d.deliveryId,
        registerKey: d.registerKey,
        recipient: d.recipient,
        kind: d.kind,
        legalBasis: d.legalBasis,
        purpose: d.purpose,
        ...(d.payload ? { payload: d.payload } : {}),
        ...(d.payloadJwe ? { payloadJwe: d.payloadJwe } : {}),
        payloadHash: d.payloadHash,
        logPosition: stored.position,
        scheduledAt: event.occurredAt,
      };
      const body = JSON.stringify({ payload: delivery, signature: signer.sign(delivery) });
      const h = headers();
      h.set(logPositionHeader, String(stored.position));
      for (;;) {
        try {
          // A publish lost with a dead cluster node is retried after 2 s (the duplicate window absorbs a stored one).
          const ack = await js.publish(deliverySubject(d.recipient.dvdv), body, { msgID: d.deliveryId, headers: h, timeout: 2000 });
          if (ack.duplicate) stats.duplicates++;
          else stats.published++;
          break;
        } catch {
          if (stopping) return;
          await new Promise((r) => setTimeout(r, retryMs));
        }
      }
    }
  })();
  return {
    stats,
    async stop() {
      stopping = true;
      await subscription.close();
      await done;
    },
  };
}
