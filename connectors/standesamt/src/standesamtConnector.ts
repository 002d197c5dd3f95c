// The Standesamt's connector: reads XPersonenstand (081020 + 081021), builds the contract
// event at Beurkundung, signs it, keeps it in the durable outbox and submits it to the hub
// over NATS request/reply. While the hub is unreachable the submissions wait and are sent
// again, in order per birth case, on reconnect and periodically.
import type { NatsConnection } from '@nats-io/transport-node';
import {
  inboxPrefixOf,
  joinBirth,
  readBirthMessageOf,
  SubmissionReplySchema,
  submitSubjectOf,
  toBirthRegistered,
  type BirthRegistered,
  type GeburtenregisterKey,
  type Result,
  type Signer,
  type Submission,
  type SubmissionReply,
  type XmlCodecError,
} from '../../../contracts/index.ts';
import { fail } from '../../../contracts/index.ts';
import { Outbox } from './outbox.ts';

export interface StandesamtConnectorOptions {
  readonly nc: NatsConnection;
  readonly signer: Signer;
  readonly outboxFile: string;
  readonly timeoutMs?: number;
  /** Birth cases sent at the same time (each case stays in order). */
  readonly concurrency?: number;
  readonly retryMs?: number;
  /** Told about every final answer (accepted or refused). */
  readonly onReply?: (messageId: string, reply: SubmissionReply) => void;
}

export interface XmlSubmission {
  readonly notice081020: string;
  readonly supplement081021?: string;
  readonly registerKey: GeburtenregisterKey;
  readonly messageId: string;
  readonly occurredAt: string;
}

const caseKeyOf = (s: Submission) => {
  const k = s.data.registerKey;
  return `${k.standesamtsnummer}/${k.registerart}/${k.jahr}/${k.eintragsnummer}`;
};

export class StandesamtConnector {
  readonly #options: StandesamtConnectorOptions;
  readonly #outbox: Outbox;
  #flushing: Promise<void> | undefined;
  #again = false;
  #closed = false;
  readonly #timer: NodeJS.Timeout;

  constructor(options: StandesamtConnectorOptions) {
    this.#options = options;
    this.#outbox = new Outbox(options.outboxFile);
    this.#timer = setInterval(() => void this.flush(), options.retryMs ?? 2000);
    this.#timer.unref();
    void (async () => {
      for await (const status of options.nc.status()) {
        if (status.type === 'reconnect') void this.flush();
      }
    })().catch(() => undefined);
  }

  /** Stores a contract event in the outbox (durably), then tries to send it. */
  submit(event: Submission): Promise<void> {
    const body = JSON.stringify({ payload: event, signature: this.#options.signer.sign(event) });
    this.#outbox.add(event.messageId, caseKeyOf(event), body);
    return this.flush();
  }

  /** Reads 081020 (+ 081021), joins them with the register key and submits the registration. */
  async submitXml(input: XmlSubmission): Promise<Result<BirthRegistered, XmlCodecError>> {
    const notice = readBirthMessageOf('081020', input.notice081020);
    if (!notice.success) return notice;
    let supplement;
    if (input.supplement081021 !== undefined) {
      const read = readBirthMessageOf('081021', input.supplement081021);
      if (!read.success) return read;
      supplement = read.data;
    }
    const joined = joinBirth(notice.data, supplement, input.registerKey);
    if (!joined.success) return fail(joined.error);
    const identity = this.#options.signer.identity;
    const event = toBirthRegistered(joined.data, {
      messageId: input.messageId,
      occurredAt: input.occurredAt,
      producer: { dvdv: identity.dvdv as BirthRegistered['producer']['dvdv'], name: identity.name, role: identity.role },
    });
    await this.submit(event);
    return { success: true, data: event };
  }

  status(messageId: string) {
    return this.#outbox.status(messageId);
  }

  counts() {
    return this.#outbox.counts();
  }

  /** Sends what is pending; resolves when this round is over (some may still be pending). */
  flush(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#flushing) {
      this.#again = true;
      return this.#flushing;
    }
    this.#flushing = (async () => {
      do {
        this.#again = false;
        await this.#round();
      } while (this.#again && !this.#closed);
    })().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  async #round(): Promise<void> {
    const byCase = new Map<string, { messageId: string; body: string }[]>();
    for (const e of this.#outbox.pending()) {
      const list = byCase.get(e.caseKey) ?? [];
      list.push({ messageId: e.messageId, body: e.body });
      byCase.set(e.caseKey, list);
    }
    const queue = [...byCase.values()];
    const worker = async () => {
      for (let list = queue.shift(); list; list = queue.shift()) {
        for (const entry of list) {
          if (!(await this.#send(entry.messageId, entry.body))) break; // keep the case's order
        }
      }
    };
    await Promise.all(Array.from({ length: this.#options.concurrency ?? 16 }, worker));
  }

  /** True when the hub gave a final answer. */
  async #send(messageId: string, body: string): Promise<boolean> {
    let reply: SubmissionReply;
    try {
      // Submitted on this office's own subject; the hub answers only on this office's own inbox.
      const replySubject = `${inboxPrefixOf(this.#options.signer.identity.dvdv)}.${crypto.randomUUID().replace(/-/g, '')}`;
      const answer = await this.#options.nc.request(submitSubjectOf(this.#options.signer.identity.dvdv), body, { timeout: this.#options.timeoutMs ?? 5000, noMux: true, reply: replySubject });
      reply = SubmissionReplySchema.parse(JSON.parse(new TextDecoder().decode(answer.data)));
    } catch {
      return false; // no responders, timeout, garbled answer: stays pending
    }
    if (reply.ok) this.#outbox.markDelivered(messageId, reply.position);
    else if (reply.error.code === 'unavailable') return false;
    else this.#outbox.markRejected(messageId, `${reply.error.code}: ${reply.error.message}`);
    this.#options.onReply?.(messageId, reply);
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#flushing;
    this.#outbox.close();
  }
}
