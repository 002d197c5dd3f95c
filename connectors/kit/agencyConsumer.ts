// The loop every agency connector runs: a durable pull consumer on its own delivery subject;
// each delivery is checked (hub signature, addressed to us, a clear payload's hash), handed to
// the agency's system once (idempotent on delivery id), answered with a signed receipt carrying
// the hash of exactly what was received (of the JWE as received, never of its plaintext), and
// only then acknowledged. A crash at any point leads to a redelivery that finds the earlier
// work and re-sends the same receipt. The receipts are kept in one SQLite database per
// connector (`<stateDir>/receipts.sqlite`, see receiptStore.ts): those of a batch of deliveries
// are committed together, after the batch's inbox files are durable and before any is sent.
//
// An erasure notice (the hub erased a case this agency received deliveries of) arrives the
// same way, checked the same way (hub role and hub address, addressed to us), and is carried
// out once per notice id: the erased deliveries are marked (a late redelivery of one is not
// handed over again), the agency's handler leaves a notice file and removes their inbox files,
// the connector's state about them (their receipts' rows) goes, and a signed erasure receipt is
// kept, sent, and only then the notice acknowledged.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import type { KeyObject } from 'node:crypto';
import {
  canonicalHash,
  decryptPayload,
  decryptReason,
  hubIdentity,
  consumerName,
  deliveryStream,
  deliverySubject,
  receiptSubject,
  receivedHashOf,
  ErasureReceiptSchema,
  ReceiptSchema,
  SignedDeliverySchema,
  SignedErasureNoticeSchema,
  type Delivery,
  type ErasureNotice,
  type ErasureReceipt,
  type Receipt,
  type Signer,
  type Verifier,
} from '../../contracts/index.ts';
import { ensurePrivateDir, syncDirs, writeFileAtomic } from './atomicFile.ts';
import { legacyReceiptsDirOf, openReceiptStore } from './receiptStore.ts';
import { isStorageFull, StorageEpisodes } from './storageFull.ts';
import { backoffMs, createLifecycle, pause, type Lifecycle } from './lifecycle.ts';

/**
 * How a handler writes its inbox files: each complete and fsync'd when `write` returns, their
 * names made durable (one fsync per directory for a batch of deliveries) before any receipt
 * of the batch is sent.
 */
export interface InboxWriter {
  write(file: string, content: string): void;
}

export type HandlerOutcome = { readonly ok: true; readonly reference?: string } | { readonly ok: false; readonly reasonCode: string; readonly reason: string };

export interface AgencyConsumerOptions {
  readonly nc: NatsConnection;
  readonly dvdv: string;
  readonly signer: Signer;
  /** Checks the hub's signature (certificate chain, revocation). */
  readonly hubVerifier: Verifier;
  /** The hub's DVDV address: only a signature by *the* hub counts, not any hub-role certificate. */
  readonly hubDvdv?: string;
  /**
   * Where receipts are kept so that a redelivery re-sends the same one (`receipts.sqlite`), and
   * the erasure receipts and erased deliveries (`erasures/`, `erased/`).
   */
  readonly stateDir: string;
  /** Gets the delivery opened: the plaintext `payload`, and a correction's `reason` in clear. */
  readonly handle: (delivery: Delivery, inbox: InboxWriter) => Promise<HandlerOutcome>;
  /**
   * Carries out an erasure notice in the agency's inbox: leaves a notice file without personal
   * data, removes the inbox files of the notice's deliveries; safe to run again.
   */
  readonly erase?: (notice: ErasureNotice) => Promise<void>;
  readonly maxDeliver?: number;
  readonly ackWaitMs?: number;
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
  /** The agency's private key, for payloads encrypted to its certificate. */
  readonly decryptionKey?: KeyObject;
  /** How long to wait at start for the hub's delivery stream. */
  readonly startupTimeoutMs?: number;
  /** While this party holds no current CRL, a delivery comes again after this long (default 60 s) instead of being refused. */
  readonly revocationUnknownRetryMs?: number;
  /**
   * Where the consume loop runs, as the component `deliveries`: a failure (the consumer gone,
   * a pull lost) is logged at error level, counted and shown unhealthy, and the loop starts again
   * after the back-off. Default: a lifecycle of its own that reports to `log`.
   */
  readonly lifecycle?: Lifecycle;
}

export interface AgencyConsumer {
  /**
   * `held`: deliveries not acknowledged now because the disk is full (handled once space is back);
   * `answered`: batches of receipts sent (one commit of the receipts and one fsync per inbox
   * directory each).
   */
  readonly stats: { received: number; handled: number; redelivered: number; refused: number; erased: number; held: number; answered: number };
  stop(): Promise<void>;
}

export async function startAgencyConsumer(options: AgencyConsumerOptions): Promise<AgencyConsumer> {
  const { nc, dvdv, signer, hubVerifier } = options;
  const now = options.now ?? (() => new Date());
  const hubDvdv = options.hubDvdv ?? hubIdentity.dvdv;
  const log = options.log ?? (() => undefined);
  // Erasure receipts by notice id; erased deliveries by delivery id (markers holding a notice id).
  const erasuresDir = path.join(options.stateDir, 'erasures');
  const erasedDir = path.join(options.stateDir, 'erased');
  ensurePrivateDir(erasuresDir);
  ensurePrivateDir(erasedDir);
  const erasedMarker = (deliveryId: string) => path.join(erasedDir, deliveryId);
  // Receipts kept as files by earlier versions are imported here.
  const receipts = openReceiptStore(options.stateDir);
  if (receipts.imported > 0) log(`${receipts.imported} receipts imported into ${receipts.file} from ${legacyReceiptsDirOf(options.stateDir)}`);
  const js = jetstream(nc);
  const name = consumerName(dvdv);
  // The hub creates the streams; a connector that starts first waits for them (bounded, reported),
  // as it waits for a JetStream cluster that is still electing its leaders.
  const deadline = Date.now() + (options.startupTimeoutMs ?? 60_000);
  const consumerConfig = {
    durable_name: name,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: deliverySubject(dvdv),
    max_deliver: options.maxDeliver ?? 5,
    ack_wait: nanos(options.ackWaitMs ?? 30_000),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.consumers.add(deliveryStream, consumerConfig);
      break;
    } catch (error) {
      const name = (error as Error).name;
      if ((name !== 'StreamNotFoundError' && name !== 'TimeoutError' && !/jetstream not (ready|enabled)|no suitable peers|no responders/i.test((error as Error).message)) || Date.now() > deadline) {
        receipts.close();
        throw error;
      }
      log(`waiting for the hub's delivery stream (attempt ${attempt}: ${(error as Error).message})`);
      await pause(backoffMs(attempt, { baseMs: 100, maxMs: 2000 }));
    }
  }
  const stats = { received: 0, handled: 0, redelivered: 0, refused: 0, erased: 0, held: 0, answered: 0 };
  const decoder = new TextDecoder();
  // Deliveries handled and not yet answered, and the directories their files were renamed into:
  // answered together once what the consumer has ready is handled (see answerAll).
  const answers: { m: JsMsg; receipt: Receipt }[] = [];
  const unsyncedDirs = new Set<string>();
  const inbox: InboxWriter = { write: (file, content) => writeFileAtomic(file, content, unsyncedDirs) };

  const receiptFor = async (delivery: Delivery): Promise<Receipt> => {
    const kept = receipts.get(delivery.deliveryId);
    if (kept) {
      stats.redelivered++;
      return kept;
    }
    let plaintext: unknown = delivery.payload;
    let refusal: HandlerOutcome | undefined;
    if (delivery.payloadJwe) {
      const opened = options.decryptionKey
        ? await decryptPayload(delivery.payloadJwe, options.decryptionKey, delivery.deliveryId)
        : { success: false as const, error: { code: 'no-key', message: 'no decryption key configured' } };
      if (opened.success) plaintext = opened.data;
      else refusal = { ok: false, reasonCode: opened.error.code, reason: opened.error.message };
    }
    // A correction's reason travels like the payload: a JWE for this agency when the payload is one.
    let correction = delivery.correction;
    if (correction?.reasonJwe !== undefined && !refusal) {
      const opened = options.decryptionKey
        ? await decryptReason(correction.reasonJwe, options.decryptionKey, delivery.deliveryId)
        : { success: false as const, error: { code: 'no-key', message: 'no decryption key configured' } };
      if (opened.success) correction = { corrects: correction.corrects, reason: opened.data };
      else refusal = { ok: false, reasonCode: opened.error.code, reason: `the correction's reason: ${opened.error.message}` };
    }
    // What was received: the JWE as it came (its hash says nothing about the plaintext; the
    // hub's signature and the JWE's tag protect it), or a clear payload checked against its hash.
    const receivedHash = delivery.payloadJwe !== undefined ? receivedHashOf(delivery)! : canonicalHash(plaintext ?? null);
    const mismatch =
      (delivery.payloadJwe === undefined && receivedHash !== delivery.payloadHash) ||
      // An older delivery that still names the plaintext's hash beside its JWE: checked too.
      (delivery.payloadJwe !== undefined && delivery.payloadHash !== undefined && !refusal && canonicalHash(plaintext ?? null) !== delivery.payloadHash);
    const outcome: HandlerOutcome =
      refusal ??
      (mismatch
        ? { ok: false, reasonCode: 'hash-mismatch', reason: 'payload does not match its hash' }
        : await options.handle({ ...delivery, payload: plaintext as Delivery['payload'], ...(correction ? { correction } : {}) }, inbox));
    const receipt: Receipt = ReceiptSchema.parse({
      deliveryId: delivery.deliveryId,
      recipient: dvdv,
      status: outcome.ok ? 'acknowledged' : 'rejected',
      receivedHash,
      receivedAt: now().toISOString(),
      ...(outcome.ok ? (outcome.reference ? { agencyReference: outcome.reference } : {}) : { reasonCode: outcome.reasonCode, reason: outcome.reason }),
    });
    // Committed with the batch's other receipts, once the inbox files are durable (answerAll).
    receipts.put(receipt);
    stats.handled++;
    return receipt;
  };

  /**
   * Makes the files of the deliveries handled so far durable (one fsync per directory), then
   * their receipts (one commit), then sends the receipts and acknowledges the deliveries: no
   * receipt leaves before what it answers and the receipt itself are on disk, and no delivery
   * is acknowledged before its receipt was accepted. When the disk is full, the batch is held
   * (its receipts rolled back, handled again once space is back: false); any other failure
   * leaves it for a redelivery.
   */
  const answerAll = async (): Promise<boolean> => {
    if (answers.length === 0) return true;
    const batch = answers.splice(0);
    stats.answered++;
    try {
      syncDirs(unsyncedDirs);
      unsyncedDirs.clear();
      receipts.commit();
    } catch (error) {
      // None of the batch's receipts was sent, and none is kept: each is made again on redelivery.
      receipts.rollback();
      if (isStorageFull(error, options.stateDir)) {
        hold(batch.map((a) => a.m), error, batch.length === 1 ? `the receipt of delivery ${batch[0]!.receipt.deliveryId}` : `the receipts of ${batch.length} deliveries`);
        return false;
      }
      log(`${batch.length} deliveries not finished (their files or receipts could not be made durable), will be redelivered: ${(error as Error).message}`);
      for (const { m } of batch) m.nak(1000);
      return true;
    }
    episodes.succeeded();
    await Promise.all(
      batch.map(async ({ m, receipt }) => {
        try {
          // One final answer per delivery: the dedup id does not depend on the answer.
          await js.publish(receiptSubject(dvdv), JSON.stringify({ payload: receipt, signature: signer.sign(receipt) }), { msgID: `receipt:${receipt.deliveryId}` });
          m.ack();
        } catch (error) {
          log(`delivery ${receipt.deliveryId} not finished, will be redelivered: ${(error as Error).message}`);
          m.nak(1000);
        }
      }),
    );
    return true;
  };

  /** Carries out a notice once; a redelivered one finds the kept receipt. */
  const erasureReceiptFor = async (notice: ErasureNotice): Promise<ErasureReceipt> => {
    const file = path.join(erasuresDir, `${notice.noticeId}.json`);
    if (existsSync(file)) {
      stats.redelivered++;
      return ErasureReceiptSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    }
    if (!options.erase) throw new Error('this connector cannot carry out erasure notices');
    // Marked first: a redelivery of one of these deliveries is not handed over again.
    for (const id of notice.deliveryIds) if (!existsSync(erasedMarker(id))) writeFileAtomic(erasedMarker(id), notice.noticeId);
    await options.erase(notice);
    // The connector's own state about those deliveries: their receipts (hashes of what was received).
    receipts.remove(notice.deliveryIds);
    const receipt = ErasureReceiptSchema.parse({ type: 'erasure-receipt', noticeId: notice.noticeId, recipient: dvdv, status: 'erased', deliveryIds: notice.deliveryIds, erasedAt: now().toISOString() });
    writeFileAtomic(file, JSON.stringify(receipt));
    stats.erased++;
    return receipt;
  };

  /** A hub-signed erasure notice for us, or why not. */
  const verifiedNotice = (json: unknown): ErasureNotice => {
    const signed = SignedErasureNoticeSchema.parse(json);
    const verified = hubVerifier.verify(signed.payload, signed.signature, now());
    if (!verified.success) throw new Error(`not signed by the hub: ${verified.error.code}`);
    if (verified.data.role !== 'hub' || verified.data.dvdv !== hubDvdv) throw new Error(`signed by ${verified.data.role} ${verified.data.dvdv}, not by the hub ${hubDvdv}`);
    if (signed.payload.recipient.dvdv !== dvdv) throw new Error(`addressed to ${signed.payload.recipient.dvdv}`);
    return signed.payload;
  };

  /**
   * Handles one message to its end: acknowledged, refused (term), or left for a redelivery
   * (nak). `full` when the inbox or the connector's state cannot be written for lack of space:
   * then it is neither acknowledged nor nak'ed (a redelivery would count against max_deliver).
   */
  const handleMessage = async (m: JsMsg): Promise<'done' | 'full'> => {
    let delivery: Delivery;
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(m.data));
    } catch {
      stats.refused++;
      log(`refused delivery (stream seq ${m.seq}): not JSON`);
      m.term();
      return 'done';
    }
    if ((json as { payload?: { type?: unknown } } | null)?.payload?.type === 'erasure-notice') {
      let notice: ErasureNotice;
      try {
        notice = verifiedNotice(json);
      } catch (error) {
        stats.refused++;
        log(`refused erasure notice (stream seq ${m.seq}): ${(error as Error).message}`);
        m.term();
        return 'done';
      }
      try {
        // Deliveries handled before the notice are answered before it is carried out (held
        // before it when their receipts cannot be kept for lack of space).
        if (!(await answerAll())) return 'full';
        const receipt = await erasureReceiptFor(notice);
        await js.publish(receiptSubject(dvdv), JSON.stringify({ payload: receipt, signature: signer.sign(receipt) }), { msgID: `erasure-receipt:${receipt.noticeId}` });
        m.ack();
        episodes.succeeded();
      } catch (error) {
        if (isStorageFull(error, options.stateDir)) return full(error, `erasure notice ${notice.noticeId}`);
        log(`erasure notice ${notice.noticeId} not finished, will be redelivered: ${(error as Error).message}`);
        m.nak(1000);
      }
      return 'done';
    }
    try {
      const signed = SignedDeliverySchema.parse(json);
      const verified = hubVerifier.verify(signed.payload, signed.signature, now());
      if (!verified.success && verified.error.code === 'revocation-unknown') {
        // This party holds no current CRL, so it can check no signature: the delivery is not
        // taken now, and not thrown away either; it comes again once a current CRL is here.
        log(`delivery (stream seq ${m.seq}) not checked, will be redelivered: ${verified.error.message}`);
        m.nak(options.revocationUnknownRetryMs ?? 60_000);
        return 'done';
      }
      if (!verified.success) throw new Error(`not signed by the hub: ${verified.error.code}`);
      if (verified.data.role !== 'hub' || verified.data.dvdv !== hubDvdv) throw new Error(`signed by ${verified.data.role} ${verified.data.dvdv}, not by the hub ${hubDvdv}`);
      if (signed.payload.recipient.dvdv !== dvdv) throw new Error(`addressed to ${signed.payload.recipient.dvdv}`);
      delivery = signed.payload;
    } catch (error) {
      // Nothing forged or foreign is acted on, and it is not redelivered either.
      stats.refused++;
      log(`refused delivery (stream seq ${m.seq}): ${(error as Error).message}`);
      m.term();
      return 'done';
    }
    if (existsSync(erasedMarker(delivery.deliveryId))) {
      // The hub erased its case since: nothing is handed over (and the hub can log no receipt for it).
      log(`delivery ${delivery.deliveryId} belongs to an erased case: not handed over`);
      m.ack();
      return 'done';
    }
    try {
      answers.push({ m, receipt: await receiptFor(delivery) });
    } catch (error) {
      if (isStorageFull(error, options.stateDir)) return full(error, `delivery ${delivery.deliveryId}`);
      log(`delivery ${delivery.deliveryId} not finished, will be redelivered: ${(error as Error).message}`);
      m.nak(1000);
    }
    return 'done';
  };

  // A full disk (the inbox, the connector's state): the delivery is not acknowledged, and it
  // and every later one are held in order (kept from being redelivered with `working()`, so a
  // long episode does not use up max_deliver), tried again every second, and handled once
  // space is back. Reported once when it starts and once when it ends.
  const held: JsMsg[] = [];
  const episodes = new StorageEpisodes({
    full: (error, what) =>
      log(`storage full: ${what} cannot be written (${(error as Error).message}); it is not acknowledged and is held, with the deliveries after it, until space is freed in ${options.stateDir} or the inbox (connector.storage-full)`),
    recovered: (refused, fullForMs) => log(`storage writable again after ${Math.round(fullForMs / 1000)} s: the held deliveries are handled (${refused} attempts refused meanwhile) (connector.storage-recovered)`),
  });
  const full = (error: unknown, what: string): 'full' => {
    episodes.failed(error, what, options.stateDir);
    return 'full';
  };
  /** Deliveries handled whose receipts could not be committed for lack of space: held first, in order. */
  const hold = (ms: readonly JsMsg[], error: unknown, what: string): void => {
    episodes.failed(error, what, options.stateDir);
    if (held.length === 0) keptAlive = Date.now();
    held.unshift(...ms);
    stats.held = held.length;
  };
  const lifecycle = options.lifecycle ?? createLifecycle({ logger: { error: (_, message) => log(message), warn: (_, message) => log(message) } });
  const component = lifecycle.component('deliveries');
  const keepAliveMs = Math.max(500, Math.min(5000, (options.ackWaitMs ?? 30_000) / 3));
  let keptAlive = 0;
  let draining: Promise<void> | undefined;
  const drainHeld = (): Promise<void> => {
    if (draining || held.length === 0) return draining ?? Promise.resolve();
    draining = (async () => {
      if (Date.now() - keptAlive >= keepAliveMs) {
        keptAlive = Date.now();
        for (const m of held) m.working();
      }
      try {
        while (held.length > 0) {
          const m = held[0]!;
          if ((await handleMessage(m)) === 'full') return;
          // Where it is now: a batch held meanwhile went before it.
          const at = held.indexOf(m);
          if (at >= 0) held.splice(at, 1);
          stats.held = held.length;
          // While the disk is full, one delivery at a time: its receipt is committed (which ends
          // the episode) before the next is handled.
          if (episodes.full && answers.length > 0 && !(await answerAll())) return;
        }
      } finally {
        await answerAll();
      }
    })()
      .catch((error: unknown) => component.failed(error, { held: held.length }))
      .finally(() => (draining = undefined));
    return draining;
  };
  const holdTimer = setInterval(() => void drainHeld(), 1000);
  holdTimer.unref();

  const idle = (next: Promise<unknown>): Promise<boolean> => Promise.race([next.then(() => false), new Promise<true>((r) => setImmediate(r, true))]);
  // The consume loop, started again after the back-off when it fails: a consumer deleted (it is
  // created again), a pull that cannot be renewed. What was handled and not yet answered is answered first.
  let restarted = false;
  const consuming = lifecycle.runLoop('deliveries', async (signal) => {
    if (restarted) await (await jetstreamManager(nc)).consumers.add(deliveryStream, consumerConfig);
    restarted = true;
    const consumer = await js.consumers.get(deliveryStream, name);
    // Short pulls (heartbeat every second): when a cluster node dies or the consumer's leader moves,
    // a pull lost with it is noticed after two missed heartbeats (~2 s), not the default 30 s.
    // A consumer deleted ends the loop with an error instead of waiting for it silently.
    const messages = await consumer.consume({ max_messages: 64, expires: 2000, abort_on_missing_resource: true });
    const close = () => void messages.close();
    signal.addEventListener('abort', close, { once: true });
    // Stopped while the consumer was being set up: the listener came too late.
    if (signal.aborted) close();
    component.succeeded();
    const incoming = messages[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = incoming.next();
        // What the consumer has ready is handled first, then answered together.
        if (answers.length > 0 && (answers.length >= 64 || (await idle(next)))) await answerAll();
        const step = await next;
        if (step.done) break;
        const m = step.value;
        stats.received++;
        try {
          component.checkFault();
        } catch (error) {
          m.nak(1000);
          throw error;
        }
        // Behind held ones: in order, once space is back.
        if (held.length > 0 || (await handleMessage(m)) === 'full') {
          held.push(m);
          stats.held = held.length;
          if (held.length === 1) keptAlive = Date.now();
        }
      }
      if (!signal.aborted) throw new Error('the delivery consumer ended');
    } finally {
      signal.removeEventListener('abort', close);
      const closed = messages.close();
      // The consumer's iterator ends only when read to its end: what it still holds comes again.
      for (let rest = await incoming.next(); !rest.done; rest = await incoming.next()) rest.value.nak(1000);
      await closed;
      await answerAll();
    }
  });
  return {
    stats,
    async stop() {
      // Held deliveries stay unacknowledged: they come again to the next start.
      clearInterval(holdTimer);
      await draining;
      try {
        await consuming.stop();
      } finally {
        receipts.close();
      }
    },
  };
}
