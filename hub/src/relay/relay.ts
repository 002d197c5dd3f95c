// The relay: tails the log and publishes each `DeliveryScheduled` to JetStream, signed by
// the hub, one subject per recipient, with Nats-Msg-Id = delivery id; an erased case's
// `ErasureNoticeScheduled` the same way, on the recipient's delivery subject, with
// Nats-Msg-Id = notice id. The log is the outbox.
// Publishes are pipelined (up to `inFlight` awaiting their acks). The relay's durable position
// is the low-water mark below which every delivery is acknowledged by JetStream; it is written
// to `positionFile` (atomically, fsync'd) as it advances, and a restart resumes from it, so a
// crash re-publishes at most what was in flight: JetStream's duplicate window absorbs the
// overlap, and connectors act once per delivery id even beyond it. It never skips: while NATS
// is away it retries.
// At a `CaseErased`, once everything before it is stored, the relay deletes the erased case's
// delivery messages from the stream (purge.ts): reported when done, reported as a failure
// (error level) when it could not after a few attempts; a replay finds them gone.
import { headers } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { deliveryStream, deliverySubject, type CaseErased, type Delivery, type ErasureNotice, type Signer } from '../../../contracts/index.ts';
import type { EventStore, Subscription } from '../log/eventStore.ts';
import { fromRecord } from '../log/records.ts';
import { positionKeeper, readPositionFile } from '../infra/positionFile.ts';
import { purgeErasedDeliveries, type PurgeReport } from './purge.ts';
import { backoffMs, createLifecycle, pause, type Component, type Lifecycle } from '../../../connectors/kit/lifecycle.ts';

export const logPositionHeader = 'Elfe-Log-Position';

export interface RelayOptions {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly log: EventStore;
  readonly signer: Signer;
  readonly retryMs?: number;
  /** Publishes awaiting their JetStream ack at once (default 128). */
  readonly inFlight?: number;
  /** Where the relay keeps its durable position; without it, it resumes after the stream's newest message (sound only for `inFlight: 1`). */
  readonly positionFile?: string;
  /** Told what was deleted from the stream for an erased case, per recipient (ids and counts). */
  readonly onPurged?: (report: PurgeReport) => void;
  /** Told when an erased case's deliveries could not be deleted from the stream (default: stderr). */
  readonly onPurgeFailed?: (failure: { caseId: string; deliveryIds: readonly string[]; error: Error }) => void;
  /** Attempts at deleting an erased case's deliveries before it is reported as failed (default 5). */
  readonly purgeAttempts?: number;
  /** Where the relay reports a failed publish (logged, counted, unhealthy until a publish succeeds again). */
  readonly component?: Component;
  /**
   * Where the relay's loop runs (as `component`'s name, default `relay`): a failing log
   * subscription is reported and the loop subscribes again from its position after the back-off.
   */
  readonly lifecycle?: Lifecycle;
}

export interface Relay {
  readonly stats: { published: number; duplicates: number; resumedFrom: number; position: number; purged: number; purgeFailures: number };
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
  const window = options.positionFile ? Math.max(1, options.inFlight ?? 128) : 1;
  const from = readPositionFile(options.positionFile) ?? (await resumePosition(jsm));
  const stats = { published: 0, duplicates: 0, resumedFrom: from, position: from, purged: 0, purgeFailures: 0 };
  const onPurgeFailed =
    options.onPurgeFailed ??
    ((f: { caseId: string; deliveryIds: readonly string[]; error: Error }) => console.error(`relay: the deliveries ${f.deliveryIds.join(', ')} of erased case ${f.caseId} could not be deleted from the stream: ${f.error.message}`));
  let stopping = false;
  /** Log positions of deliveries published but not yet acknowledged, in increasing order. */
  const pending: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let seen = from;
  const lowWater = () => pending[0] ?? seen;
  // Written at most every 200 ms: a restart re-publishes what came after, which the dedup absorbs.
  const position = positionKeeper(options.positionFile, lowWater, from);
  const save = () => position.advanced();
  const lifecycle = options.lifecycle ?? createLifecycle({ logger: { error: (_, message) => console.error(`relay: ${message}`), warn: (_, message) => console.error(`relay: ${message}`) } });
  // The loop, subscribed again from where it stands (what was handed to a publish is not read again) when the subscription fails.
  const loop = lifecycle.runLoop(options.component?.name ?? 'relay', async (signal) => {
    const subscription: Subscription = log.subscribe(seen, { open: (stored) => stored.type === 'DeliveryScheduled' });
    const close = () => void subscription.close();
    signal.addEventListener('abort', close, { once: true });
    try {
      await relayFrom(subscription);
    } finally {
      signal.removeEventListener('abort', close);
      await subscription.close();
    }
    if (!signal.aborted && !stopping) throw new Error('the log subscription ended');
  });
  async function relayFrom(subscription: Subscription): Promise<void> {
    for await (const stored of subscription) {
      stats.position = stored.position + 1;
      if (stored.type === 'CaseErased') {
        const erased = fromRecord(stored);
        if (erased?.type === 'CaseErased' && (erased.data.recipients?.length ?? 0) > 0) {
          // Everything before it stored first: no delivery of the case is still on its way in.
          await Promise.all(inFlight);
          await purge(erased);
          if (stopping) return;
        }
        seen = stored.position + 1;
        save();
        continue;
      }
      if (stored.type !== 'DeliveryScheduled' && stored.type !== 'ErasureNoticeScheduled') {
        seen = stored.position + 1;
        save();
        continue;
      }
      const event = fromRecord(stored);
      if (event?.type === 'ErasureNoticeScheduled') {
        const n = event.data;
        // Ids and offices only: the case's key is gone, and the notice carries nothing personal.
        const notice: ErasureNotice = {
          type: 'erasure-notice',
          noticeId: n.noticeId,
          recipient: n.recipient,
          deliveryIds: n.deliveryIds,
          erasedAt: n.erasedAt,
          reason: n.reason,
          legalBasis: n.legalBasis,
          logPosition: stored.position,
          scheduledAt: event.occurredAt,
        };
        const published = await send(stored.position, n.recipient.dvdv, n.noticeId, JSON.stringify({ payload: notice, signature: signer.sign(notice) }));
        if (!published) return;
        continue;
      }
      if (!event || event.type !== 'DeliveryScheduled') continue;
      const d = event.data;
      const delivery: Delivery = {
        deliveryId: d.deliveryId,
        // No register key: JetStream keeps what it is sent; the agency finds it in the JWE payload.
        recipient: d.recipient,
        kind: d.kind,
        legalBasis: d.legalBasis,
        purpose: d.purpose,
        // A JWE travels without the plaintext's hash (it would confirm a guessed data set from
        // the stream): the hub's signature and the JWE's tag protect it. A clear payload keeps it.
        ...(d.payloadJwe ? { payloadJwe: d.payloadJwe } : {}),
        ...(d.payload ? { payload: d.payload, payloadHash: d.payloadHash } : {}),
        // The corrected delivery's id in clear; the reason as the log holds it (a JWE when the payload is one).
        ...(d.correction ? { correction: d.correction } : {}),
        logPosition: stored.position,
        scheduledAt: event.occurredAt,
      };
      const body = JSON.stringify({ payload: delivery, signature: signer.sign(delivery) });
      if (!(await send(stored.position, d.recipient.dvdv, d.deliveryId, body))) return;
    }
  }

  /** Deletes an erased case's deliveries from the stream, with a few attempts; a failure is reported, never swallowed. */
  async function purge(erased: CaseErased): Promise<void> {
    const attempts = Math.max(1, options.purgeAttempts ?? 5);
    for (let attempt = 1; ; attempt++) {
      try {
        const reports = await purgeErasedDeliveries(js, jsm, log, erased);
        for (const report of reports) {
          stats.purged += report.deleted;
          options.onPurged?.(report);
        }
        return;
      } catch (error) {
        if (stopping) return;
        if (attempt >= attempts) {
          stats.purgeFailures++;
          onPurgeFailed({ caseId: erased.data.caseId, deliveryIds: (erased.data.recipients ?? []).flatMap((r) => r.deliveryIds), error: error as Error });
          return;
        }
        await pause(backoffMs(attempt, { baseMs: retryMs, maxMs: 10_000 }));
      }
    }
  }

  /** Publishes one signed message for `dvdv` (pipelined); false once the relay stops. */
  async function send(logPosition: number, dvdv: string, msgID: string, body: string): Promise<boolean> {
    const h = headers();
    h.set(logPositionHeader, String(logPosition));
    while (inFlight.size >= window) await Promise.race(inFlight);
    if (stopping) return false;
    pending.push(logPosition);
    seen = logPosition + 1;
    const publish = (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          options.component?.checkFault();
          // A publish lost with a dead cluster node is retried after 2 s (the duplicate window absorbs a stored one).
          const ack = await js.publish(deliverySubject(dvdv), body, { msgID, headers: h, timeout: 2000 });
          options.component?.succeeded();
          if (ack.duplicate) stats.duplicates++;
          else stats.published++;
          pending.splice(pending.indexOf(logPosition), 1);
          save();
          return;
        } catch (error) {
          if (stopping) return;
          options.component?.failed(error, { deliveryId: msgID, recipient: dvdv });
          await pause(backoffMs(attempt, { baseMs: retryMs, maxMs: 2000 }));
        }
      }
    })();
    inFlight.add(publish);
    void publish.finally(() => inFlight.delete(publish));
    return true;
  }
  return {
    stats,
    async stop() {
      stopping = true;
      await loop.stop();
      await Promise.all(inFlight);
      position.flush();
    },
  };
}
