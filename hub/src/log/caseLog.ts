// Personal data of a birth case under a key of its own (crypto-shredding). The case log is a
// decorator of the store port that sits ABOVE the transparent log: what it appends to a case
// stream (`birth-<case id>`) or to the stream of one of the case's deliveries
// (`delivery-<id>`) reaches the store only as AES-256-GCM ciphertext under the case's key,
// together with the kept signature, so the Merkle leaves commit to the ciphertext. Reading
// through it decrypts while the key exists; once the key is destroyed (`erase`) an entry
// comes back as stored, ciphertext nobody can read, and the audit still verifies every leaf.
//
// Stream names carry the case id, a keyed hash (HMAC-SHA256 under a hub secret in the key
// store) of the register key: the hub finds a case's stream from its register key, nobody
// finds a register key from a stream name.
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { canonicalBytes, hubDerivedUuid, type CaseErased, type ErasedRecipient, type GeburtenregisterKey } from '../../../contracts/index.ts';
import { CaseKeyStore, caseKeyFile } from './caseKeys.ts';
import { DuplicateEventIdError, type AppendResult, type EventStore, type ExpectedRevision, type JsonValue, type NewEvent, type ReadAllOptions, type ReadStreamOptions, type StoredEvent, type SubscribeOptions, type Subscription } from './eventStore.ts';
import { fromRecord, hubProducer, toRecord } from './records.ts';

/** What a sealed entry's `data` holds: ciphertext and what is needed to open it, nothing personal. */
export interface SealedData {
  readonly sealed: { readonly v: 1; readonly alg: 'A256GCM'; readonly case: string; readonly iv: string; readonly ct: string };
}

const caseIdPattern = /^[0-9a-f]{32}$/;
/** How many entries of case and delivery streams the case log keeps after a read (see `#streams`; about 4 kB each). */
const cachedEntries = 8192;
const handOffs = new Set(['DeliveryScheduled', 'DeliveryAcknowledged', 'DeliveryRejected', 'DeliveryDeadLettered']);

export const isSealed = (data: unknown): data is SealedData => {
  const s = (data as { sealed?: { v?: unknown; case?: unknown } } | null)?.sealed;
  return typeof s === 'object' && s !== null && s.v === 1 && typeof s.case === 'string';
};

/** The case id in a case stream's name, if it is one. */
export const caseIdOfStream = (stream: string): string | undefined => {
  const id = stream.startsWith('birth-') ? stream.slice('birth-'.length) : undefined;
  return id && caseIdPattern.test(id) ? id : undefined;
};

export class CaseErasedError extends Error {
  override readonly name = 'CaseErasedError';
  readonly code = 'case-erased';
  constructor(readonly caseId: string) {
    super(`birth case ${caseId} was erased: nothing can be added to it`);
  }
}

const aadOf = (eventId: string, stream: string, type: string) => Buffer.from(`elfe-sealed-v1\n${eventId}\n${stream}\n${type}`, 'utf8');

/**
 * Seals `data` and the kept signature (`metadata.signed`) of an entry. The IV is derived from
 * key, entry and plaintext (SIV-like), so the same entry seals to the same bytes: appending it
 * twice stays idempotent, and an IV never repeats for different plaintexts.
 */
/** Each case key's IV key, derived once per key object (a case's entries are sealed one after another). */
const ivKeys = new WeakMap<Buffer, Buffer>();
function ivKeyOf(key: Buffer): Buffer {
  let ivKey = ivKeys.get(key);
  if (!ivKey) {
    ivKey = createHmac('sha256', key).update('elfe-sealed-iv').digest();
    ivKeys.set(key, ivKey);
  }
  return ivKey;
}

export function sealEntry(event: NewEvent, stream: string, caseId: string, key: Buffer): NewEvent {
  const { signed, ...clear } = (event.metadata ?? {}) as Record<string, JsonValue>;
  const plaintext = canonicalBytes({ data: event.data, ...(signed !== undefined ? { signed } : {}) });
  const aad = aadOf(event.eventId, stream, event.type);
  const ivKey = ivKeyOf(key);
  const iv = createHmac('sha256', ivKey).update(aad).update(plaintext).digest().subarray(0, 12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const data: SealedData = { sealed: { v: 1, alg: 'A256GCM', case: caseId, iv: iv.toString('base64'), ct: ct.toString('base64') } };
  return { eventId: event.eventId, type: event.type, data: data as unknown as JsonValue, metadata: clear };
}

/** Opens a sealed entry with the case key; undefined when it does not open (wrong key, altered). */
export function openEntry(stored: StoredEvent, key: Buffer): StoredEvent | undefined {
  const s = (stored.data as unknown as SealedData).sealed;
  try {
    const ct = Buffer.from(s.ct, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(s.iv, 'base64'));
    decipher.setAAD(aadOf(stored.eventId, stored.stream, stored.type));
    decipher.setAuthTag(ct.subarray(ct.length - 16));
    const plain = JSON.parse(Buffer.concat([decipher.update(ct.subarray(0, ct.length - 16)), decipher.final()]).toString('utf8')) as { data: JsonValue; signed?: JsonValue };
    const metadata = plain.signed === undefined ? stored.metadata : { ...(stored.metadata as Record<string, JsonValue>), signed: plain.signed };
    return { ...stored, data: plain.data, metadata };
  } catch {
    return undefined;
  }
}

export interface CaseLogOptions {
  readonly now?: () => Date;
  /** The case key store; default `<dataDir>/keys/cases.sqlite`. */
  readonly keyFile?: string;
}

export class CaseLog implements EventStore {
  readonly #inner: EventStore;
  readonly #now: () => Date;
  /** Delivery id → case id (a delivery's stream belongs to the case that scheduled it). */
  readonly #deliveryCases = new Map<string, string | null>();
  /** Cases being erased by this process: nothing more is added to them. */
  readonly #erasing = new Set<string>();
  /**
   * Delivery streams known to be empty: their delivery was scheduled through this log as a new
   * entry, and nothing was appended to them since (their first receipt reads nothing).
   */
  readonly #emptyDeliveryStreams = new Set<string>();
  /** Appends to a case under way, which an erasure waits for before it reads the case's recipients. */
  readonly #appending = new Map<string, Set<Promise<unknown>>>();

  constructor(
    inner: EventStore,
    readonly keys: CaseKeyStore,
    options: CaseLogOptions = {},
  ) {
    this.#inner = inner;
    this.#now = options.now ?? (() => new Date());
  }

  /** The stream of the birth case with this register key. */
  caseStream(registerKey: GeburtenregisterKey | string): string {
    return `birth-${this.keys.caseIdOf(registerKey)}`;
  }

  async #caseOf(stream: string): Promise<string | undefined> {
    const direct = caseIdOfStream(stream);
    if (direct) return direct;
    if (!stream.startsWith('delivery-')) return undefined;
    const deliveryId = stream.slice('delivery-'.length);
    let caseId = this.#deliveryCases.get(deliveryId);
    if (caseId === undefined) {
      const scheduled = await this.#inner.getByEventId(deliveryId);
      caseId = (scheduled && caseIdOfStream(scheduled.stream)) ?? null;
      this.#rememberDelivery(deliveryId, caseId);
    }
    return caseId ?? undefined;
  }

  #markEmpty(stream: string): void {
    this.#emptyDeliveryStreams.add(stream);
    // Bounded: a delivery whose receipt never comes is forgotten (its stream is then read once).
    if (this.#emptyDeliveryStreams.size > 10_000) this.#emptyDeliveryStreams.delete(this.#emptyDeliveryStreams.values().next().value!);
  }

  #rememberDelivery(deliveryId: string, caseId: string | null): void {
    this.#deliveryCases.set(deliveryId, caseId);
    // Bounded: memory stays flat in the number of deliveries.
    if (this.#deliveryCases.size > 10_000) this.#deliveryCases.delete(this.#deliveryCases.keys().next().value!);
  }

  /**
   * Entries opened lately, by the stored entry (a store that hands every reader the same
   * decoded entry has each opened once, not once per follower); only handed out while the
   * case's key exists.
   */
  readonly #openedEntries = new WeakMap<StoredEvent, StoredEvent>();

  #open(stored: StoredEvent): StoredEvent {
    if (!isSealed(stored.data)) return stored;
    const key = this.keys.keyOf(stored.data.sealed.case);
    // Without the key (erased), the entry stays what the store holds: ciphertext.
    if (!key) return stored;
    const known = this.#openedEntries.get(stored);
    if (known) return known;
    const opened = openEntry(stored, key);
    if (!opened) return stored;
    this.#openedEntries.set(stored, Object.freeze(opened));
    return opened;
  }

  async append(stream: string, events: readonly NewEvent[], expectedRevision?: ExpectedRevision): Promise<AppendResult> {
    // Known empty no longer, from the moment something is on its way into it.
    if (stream.startsWith('delivery-')) this.#emptyDeliveryStreams.delete(stream);
    // A case stream's id is known at once: such an append is under way (or refused) from its call.
    const caseId = caseIdOfStream(stream) ?? (await this.#caseOf(stream));
    if (!caseId) return this.#inner.append(stream, events, expectedRevision);
    if (this.#erasing.has(caseId) && events.some((e) => e.type !== 'CaseErased')) throw new CaseErasedError(caseId);
    const work = this.#appendSealed(caseId, stream, events, expectedRevision);
    const under = this.#appending.get(caseId) ?? new Set<Promise<unknown>>();
    this.#appending.set(caseId, under.add(work));
    try {
      return await work;
    } finally {
      under.delete(work);
      if (under.size === 0 && this.#appending.get(caseId) === under) this.#appending.delete(caseId);
    }
  }

  async #appendSealed(caseId: string, stream: string, events: readonly NewEvent[], expectedRevision?: ExpectedRevision): Promise<AppendResult> {
    const now = this.#now();
    const toSeal = events.filter((e) => e.type !== 'CaseErased');
    const key = toSeal.length === 0 ? undefined : stream.startsWith('birth-') ? await this.keys.keyFor(caseId, now) : this.keys.keyOf(caseId);
    if (toSeal.length > 0 && !key) throw new CaseErasedError(caseId);
    const sealed = events.map((e) => (e.type === 'CaseErased' || !key ? e : sealEntry(e, stream, caseId, key)));
    const schedules = stream.startsWith('birth-') && events.some((e) => e.type === 'DeliveryScheduled');
    const sizeBefore = schedules ? await this.#inner.size() : 0;
    const result = await this.#inner.append(stream, sealed, expectedRevision);
    if (events.some((e) => handOffs.has(e.type))) this.keys.handedOff(caseId, now);
    // A delivery scheduled here belongs to this case: its receipt's stream is placed without asking the store.
    if (schedules) {
      events.forEach((e, i) => {
        if (e.type !== 'DeliveryScheduled') return;
        this.#rememberDelivery(e.eventId, caseId);
        // A new entry (not one the store already held): nothing can be in its delivery's stream yet,
        // unless the store saw an append to it meanwhile. Only with a store that knows its streams'
        // heads: it has no other writer (a store shared by several hubs does not).
        const deliveryStream = `delivery-${e.eventId}`;
        if (this.#inner.knownHead && result.positions[i]! >= sizeBefore && this.#inner.knownHead(deliveryStream) === undefined) this.#markEmpty(deliveryStream);
      });
    }
    return result;
  }

  async *#opened(events: AsyncIterable<StoredEvent>, open?: (stored: StoredEvent) => boolean): AsyncGenerator<StoredEvent> {
    for await (const e of events) yield !open || open(e) ? this.#open(e) : e;
  }

  /**
   * The entries of case and delivery streams read lately, as the store holds them (least
   * recently read first, at most `cachedEntries` entries). A stream is read from the store once; later
   * reads ask it only for what was appended since (nothing, when the store knows the stream's
   * head, `knownHead`), so the ingress, the scheduler and the
   * receipts, which each read a case on every message about it, do not decode it again each
   * time. Entries are opened on every read (`#open`): once a case's key is destroyed they come
   * back as ciphertext at once. An entry edited in place in the store under a running hub is
   * not read again (the log is append-only; `elfe audit verify` finds such an edit).
   */
  readonly #streams = new Map<string, readonly StoredEvent[]>();
  #cachedEntries = 0;

  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<StoredEvent> {
    if (!stream.startsWith('birth-') && !stream.startsWith('delivery-')) return this.#opened(this.#inner.readStream(stream, options));
    return this.#cachedStream(stream, options);
  }

  async *#cachedStream(stream: string, options: ReadStreamOptions = {}): AsyncGenerator<StoredEvent> {
    const known = this.#streams.get(stream) ?? [];
    const last = known.at(-1);
    const fresh: StoredEvent[] = [];
    // Nothing asked when the store knows the stream ends where the cache does (most reads).
    const head = this.#inner.knownHead?.(stream);
    const upToDate = head === (last?.streamRevision ?? -1) || (head === undefined && last === undefined && this.#emptyDeliveryStreams.has(stream));
    if (!upToDate) for await (const e of this.#inner.readStream(stream, { fromRevision: last === undefined ? 0 : last.streamRevision + 1 })) fresh.push(e);
    const entries = fresh.length === 0 ? known : [...known, ...fresh];
    this.#streams.delete(stream);
    this.#cachedEntries += entries.length - known.length;
    if (entries.length > 0) this.#streams.set(stream, entries);
    // Bounded by entries, least recently read streams first: memory stays flat in the number of cases.
    while (this.#cachedEntries > cachedEntries && this.#streams.size > 1) {
      const [oldest, dropped] = this.#streams.entries().next().value!;
      this.#streams.delete(oldest);
      this.#cachedEntries -= dropped.length;
    }
    const from = options.fromRevision ?? 0;
    let left = options.maxCount ?? Number.POSITIVE_INFINITY;
    for (const e of entries) {
      if (left <= 0) return;
      if (e.streamRevision < from) continue;
      left--;
      yield this.#open(e);
    }
  }

  readAll(options?: ReadAllOptions): AsyncIterable<StoredEvent> {
    return this.#opened(this.#inner.readAll(options));
  }

  subscribe(fromPosition: number, options: SubscribeOptions = {}): Subscription {
    const inner = this.#inner.subscribe(fromPosition);
    const opened = this.#opened(inner, options.open);
    return { close: () => inner.close(), [Symbol.asyncIterator]: () => opened };
  }

  size(): Promise<number> {
    return this.#inner.size();
  }

  async getByEventId(eventId: string): Promise<StoredEvent | undefined> {
    // A delivery scheduled through this log, its case read since: the entry the readers hold
    // (opened and parsed once for all of them), without a query. Every receipt asks for one.
    const caseId = this.#deliveryCases.get(eventId);
    const cached = caseId ? this.#streams.get(`birth-${caseId}`)?.find((e) => e.eventId === eventId) : undefined;
    if (cached) return this.#open(cached);
    const stored = await this.#inner.getByEventId(eventId);
    return stored && this.#open(stored);
  }

  /**
   * Who received deliveries of a case, and which, from its stream (while it still opens):
   * offices and ids only, in the order they were scheduled.
   */
  async recipientsOf(stream: string): Promise<ErasedRecipient[]> {
    const byDvdv = new Map<string, ErasedRecipient & { deliveryIds: string[] }>();
    for await (const stored of this.readStream(stream)) {
      if (stored.type !== 'DeliveryScheduled') continue;
      const event = fromRecord(stored);
      if (event?.type !== 'DeliveryScheduled') continue;
      const { role, dvdv, name } = event.data.recipient;
      const known = byDvdv.get(dvdv) ?? { role, dvdv, name, deliveryIds: [] };
      if (!known.deliveryIds.includes(event.data.deliveryId)) known.deliveryIds.push(event.data.deliveryId);
      byDvdv.set(dvdv, known);
    }
    return [...byDvdv.values()].map((r) => ({ ...r, deliveryIds: r.deliveryIds.slice(-100) }));
  }

  /**
   * Erases a birth case: logs `CaseErased` (keyed case id, time, reason, the recipients of its
   * deliveries with their ids; no personal data), then destroys the case's key. The recipients
   * are read first, while the case still opens: the scheduler tells each of them.
   * Undefined when the case has no key (unknown, or erased before).
   */
  async erase(stream: string, reason: string): Promise<{ caseId: string; position: number } | undefined> {
    const caseId = caseIdOfStream(stream);
    if (!caseId || !this.keys.keyOf(caseId)) return undefined;
    // Marked first: a crash between logging and destroying is finished by `recover()`.
    this.keys.markErasing(caseId);
    // Nothing more is added to the case, and what is being added lands first: the recipients
    // read next are all there will be.
    this.#erasing.add(caseId);
    try {
      await Promise.allSettled([...(this.#appending.get(caseId) ?? [])]);
      return await this.#erase(stream, caseId, reason);
    } finally {
      this.#erasing.delete(caseId);
    }
  }

  async #erase(stream: string, caseId: string, reason: string): Promise<{ caseId: string; position: number }> {
    const now = this.#now();
    const recipients = (await this.recipientsOf(stream)).slice(0, 20);
    const messageId = hubDerivedUuid('case-erased', caseId);
    const event: CaseErased = {
      messageId,
      type: 'CaseErased',
      schemaVersion: 1,
      occurredAt: now.toISOString(),
      producer: hubProducer as unknown as CaseErased['producer'],
      legalBasis: 'Art. 17 DSGVO; Art. 5 Abs. 1 lit. e DSGVO; § 9 IDNrG',
      purpose: 'Erasure of a birth case: its key is destroyed, its entries stay as ciphertext',
      correlationId: messageId,
      data: { caseId, erasedAt: now.toISOString(), reason: reason.slice(0, 500), ...(recipients.length > 0 ? { recipients } : {}) },
    };
    let position: number;
    try {
      position = (await this.#inner.append(stream, [toRecord(event)])).positions[0]!;
    } catch (error) {
      // Logged before an interruption, with another time: the existing entry stands.
      if (!(error instanceof DuplicateEventIdError)) throw error;
      position = (await this.#inner.getByEventId(messageId))!.position;
    }
    this.keys.destroy(caseId, now);
    return { caseId, position };
  }

  /** Finishes erasures a crash interrupted. */
  async recover(): Promise<void> {
    for (const caseId of this.keys.erasing()) await this.erase(`birth-${caseId}`, 'erasure finished after an interruption');
  }

  async close(): Promise<void> {
    await this.#inner.close();
    await this.keys.close();
  }
}

/** The case log above `inner`, with the key store of the hub's data directory (`keys/cases.sqlite`). */
export function openCaseLog(inner: EventStore, dataDir: string, options: CaseLogOptions = {}): CaseLog {
  return new CaseLog(inner, new CaseKeyStore(options.keyFile ?? caseKeyFile(dataDir)), options);
}
