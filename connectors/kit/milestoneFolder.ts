// An agency's milestone drop folder: its case system reports what became of a hand-off
// without calling a command per case. It drops one JSON file per milestone into
// `<connector dir>/milestones/`:
//   {"deliveryId": "…", "status": "in-bearbeitung" | "bewilligt" | "abgelehnt" | "ausgezahlt",
//    "code": "B-12" (optional, no free text), "at": "2026-12-06T09:30:00+01:00" (optional)}
// The running connector signs each as the `milestone` command does and sends it; the folder
// keeps the promises of every drop folder (kit/dropFolder.ts): `done/` only after the hub
// answered that it logged it, `failed/` with `<name>.error.json` when the hub refused it
// (not this agency's delivery, unknown delivery) or the file is no milestone (bad JSON, bad
// status), and in place, sent again, while the hub does not answer. The milestone's id derives
// from what it says, so a file sent twice (a crash before the move) is logged once.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import {
  hubIdentity,
  MilestoneCodeSchema,
  milestoneAnswerSubject,
  MilestoneStatusSchema,
  receiptSubject,
  SignedMilestoneAnswerSchema,
  TimestampSchema,
  type Milestone,
  type MilestoneAnswer,
  type Signer,
  type Verifier,
  CodedError,
} from '../../contracts/index.ts';
import { errorCode, isTemporary, settleFile, type DropError } from './dropFolder.ts';
import { createLifecycle, type Lifecycle, type Running } from './lifecycle.ts';
import { milestoneOf } from './milestones.ts';

/** One dropped milestone file. */
export const MilestoneFileSchema = z
  .object({
    deliveryId: z.uuid(),
    status: MilestoneStatusSchema,
    code: MilestoneCodeSchema.optional(),
    /** When the agency decided (default: when the file was written). */
    at: TimestampSchema.optional(),
  })
  .strict();
export type MilestoneFile = z.infer<typeof MilestoneFileSchema>;

/** Why a milestone file could not be sent: it is no JSON, or not a milestone. */
export class MilestoneFileError extends CodedError<'not-json' | 'invalid-milestone'> {
  override readonly name = 'MilestoneFileError';
}

/** Reads a dropped file as a milestone report, or says why it is none. */
export function parseMilestoneFile(text: string): { success: true; data: MilestoneFile } | { success: false; error: MilestoneFileError } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    return { success: false, error: new MilestoneFileError('not-json', 'the file is not JSON', { cause }) };
  }
  const parsed = MilestoneFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { success: false, error: new MilestoneFileError('invalid-milestone', `${issue?.path.join('.') || 'file'}: ${issue?.message ?? 'not a milestone'}`, { cause: parsed.error }) };
  }
  return { success: true, data: parsed.data };
}

const example = '{"deliveryId": "<the hand-off\'s delivery id>", "status": "bewilligt", "code": "B-12", "at": "2026-12-06T09:30:00+01:00"}';

/** What the agency does about a failed milestone, by code. */
export function milestoneHintFor(code: string): string {
  switch (code) {
    case 'not-json':
    case 'invalid-milestone':
      return `write one JSON object per file, e.g. ${example} (status: in-bearbeitung, bewilligt, abgelehnt or ausgezahlt; code: letters, digits, ".", "_", "-", at most 32), then drop it again`;
    case 'not-recipient':
      return 'this delivery was handed to another agency: only its recipient reports its milestones; check the delivery id in your case';
    case 'unknown-delivery':
      return 'the hub knows no delivery with this id: take the id from the hand-off in the inbox (the file name), then drop it again';
    case 'producer-mismatch':
    case 'role-not-allowed':
    case 'certificate-revoked':
    case 'certificate-expired':
    case 'certificate-invalid':
    case 'unknown-signer':
      return "this agency's certificate or configuration is not accepted by the hub: ask the exchange's operator";
    default:
      return 'the hub refused the milestone: see the message, fix the file and drop it again';
  }
}

export interface MilestoneFolderOptions {
  readonly nc: NatsConnection;
  /** The agency's DVDV address: the milestones are reported in its name. */
  readonly dvdv: string;
  readonly signer: Signer;
  /** Checks that an answer is the hub's. */
  readonly hubVerifier: Verifier;
  readonly hubDvdv?: string;
  readonly dir: string;
  /** How long a scan waits for the hub's answers to what it sent (default 3 s). */
  readonly answerWaitMs?: number;
  /** A milestone without an answer is sent again after this long (default 10 s). */
  readonly resendMs?: number;
  readonly now?: () => Date;
  readonly log?: (level: 'info' | 'warn', event: string, fields: Record<string, unknown>, message: string) => void;
}

/** The final outcome of one dropped file. */
export interface MilestoneResult {
  readonly file: string;
  readonly outcome: 'done' | 'failed';
  readonly milestoneId?: string;
  readonly error?: DropError;
  readonly movedTo: readonly string[];
}

export interface MilestoneFolder {
  /** Sends what lies in the folder and settles what the hub answered. */
  scan(): Promise<MilestoneResult[]>;
  stop(): Promise<void>;
}

/** Opens an agency's milestone folder (creates `done/` and `failed/`) and listens for the hub's answers. */
export function openMilestoneFolder(options: MilestoneFolderOptions): MilestoneFolder {
  const { nc, dir } = options;
  const done = path.join(dir, 'done');
  const failed = path.join(dir, 'failed');
  mkdirSync(done, { recursive: true, mode: 0o700 });
  mkdirSync(failed, { recursive: true, mode: 0o700 });
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => undefined);
  const hubDvdv = options.hubDvdv ?? hubIdentity.dvdv;
  const answers = new Map<string, MilestoneAnswer>();
  const sentAt = new Map<string, number>();
  const waitingNoted = new Set<string>();
  let onAnswer: (() => void) | undefined;

  // Answers arrive on this agency's own inbox; only the hub's signature makes them count.
  const sub: Subscription = nc.subscribe(milestoneAnswerSubject(options.dvdv));
  const listening = (async () => {
    for await (const m of sub) {
      let json: unknown;
      try {
        json = m.json();
      } catch {
        continue;
      }
      const parsed = SignedMilestoneAnswerSchema.safeParse(json);
      if (!parsed.success) continue;
      const who = options.hubVerifier.verify(parsed.data.payload, parsed.data.signature, now());
      if (!who.success || who.data.role !== 'hub' || who.data.dvdv !== hubDvdv) {
        log('warn', 'milestone.answer-unverified', { code: who.success ? 'not-the-hub' : who.error.code }, 'an answer not signed by the hub was ignored');
        continue;
      }
      answers.set(parsed.data.payload.milestoneId, parsed.data.payload);
      onAnswer?.();
    }
  })();

  const fail = (file: string, error: DropError, milestoneId?: string): MilestoneResult => {
    const hint = milestoneHintFor(error.code);
    const movedTo = settleFile(dir, file, failed, now(), { error, hint, ...(milestoneId ? { milestoneId } : {}) });
    log('warn', 'milestone.failed', { code: error.code, ...(milestoneId ? { milestoneId } : {}) }, `moved to failed/ (${error.code})`);
    waitingNoted.delete(file);
    return { file, outcome: 'failed', ...(milestoneId ? { milestoneId } : {}), error, movedTo };
  };

  /** Settles a file by the hub's answer, if there is one. */
  const settle = (file: string, milestone: Milestone): MilestoneResult | undefined => {
    const answer = answers.get(milestone.milestoneId);
    if (!answer) return undefined;
    answers.delete(milestone.milestoneId);
    sentAt.delete(milestone.milestoneId);
    if (answer.outcome === 'refused') return fail(file, { code: answer.code ?? 'refused', message: answer.message ?? 'refused by the hub' }, milestone.milestoneId);
    const movedTo = settleFile(dir, file, done, now());
    log('info', 'milestone.done', { milestoneId: milestone.milestoneId, deliveryId: milestone.deliveryId, status: milestone.status, duplicate: answer.duplicate === true }, 'logged by the hub: moved to done/');
    waitingNoted.delete(file);
    return { file, outcome: 'done', milestoneId: milestone.milestoneId, movedTo };
  };

  async function scan(): Promise<MilestoneResult[]> {
    const results: MilestoneResult[] = [];
    const pending: [string, Milestone][] = [];
    const names = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && !isTemporary(e.name)).map((e) => e.name).sort();
    for (const file of names) {
      let text: string;
      let writtenAt: Date;
      try {
        text = readFileSync(path.join(dir, file), 'utf8');
        writtenAt = statSync(path.join(dir, file)).mtime;
      } catch (error) {
        // Gone or unreadable while we looked: the next scan sees it again.
        log('warn', 'milestone.read-failed', { reason: errorCode(error) }, 'a dropped milestone could not be read; trying again');
        continue;
      }
      const report = parseMilestoneFile(text);
      if (!report.success) {
        results.push(fail(file, { code: report.error.code, message: report.error.message }));
        continue;
      }
      const { deliveryId, status, code, at } = report.data;
      // The report's time is part of the signed bytes: the file's own, so a resend says the same.
      const milestone = milestoneOf(options.dvdv, { deliveryId: deliveryId.toLowerCase(), status, code, reportedAt: new Date(at ?? writtenAt).toISOString() });
      const settled = settle(file, milestone);
      if (settled) results.push(settled);
      else pending.push([file, milestone]);
    }
    // Sent now: what was never sent by this process, or not answered for a while.
    let sent = 0;
    for (const [file, milestone] of pending) {
      const last = sentAt.get(milestone.milestoneId);
      if (last !== undefined && now().getTime() - last < (options.resendMs ?? 10_000)) continue;
      try {
        // Each attempt its own JetStream message: the hub checks it again and answers again
        // (a lost answer, or one given while this connector was down); it logs the milestone once.
        await jetstream(nc).publish(receiptSubject(options.dvdv), JSON.stringify({ payload: milestone, signature: options.signer.sign(milestone) }), { msgID: `milestone:${milestone.milestoneId}:${randomUUID()}` });
        sentAt.set(milestone.milestoneId, now().getTime());
        sent++;
      } catch (error) {
        if (!waitingNoted.has(file)) log('warn', 'milestone.not-sent', { milestoneId: milestone.milestoneId, reason: errorCode(error) }, 'the milestone could not be sent; it stays in the folder and is sent again');
        waitingNoted.add(file);
      }
    }
    if (sent > 0) {
      const allAnswered = () => pending.every(([, m]) => answers.has(m.milestoneId));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          onAnswer = undefined;
          resolve();
        }, options.answerWaitMs ?? 3000);
        onAnswer = () => {
          if (!allAnswered()) return;
          clearTimeout(timer);
          onAnswer = undefined;
          resolve();
        };
        onAnswer();
      });
    }
    for (const [file, milestone] of pending) {
      const settled = settle(file, milestone);
      if (settled) results.push(settled);
      else if (!waitingNoted.has(file)) {
        waitingNoted.add(file);
        log('info', 'milestone.awaiting-hub', { milestoneId: milestone.milestoneId }, 'kept in the folder until the hub answers (it is sent again)');
      }
    }
    return results;
  }

  return {
    scan,
    async stop() {
      sub.unsubscribe();
      await listening;
    },
  };
}

/** Where an agency's connector watches for milestones: `milestones/` in its directory, beside `inbox/`. */
export const milestoneDirOf = (connectorDir: string): string => path.join(connectorDir, 'milestones');

/** The folder's structured notes as the plain lines a connector logs. */
export const asLines =
  (line: (text: string) => void): NonNullable<MilestoneFolderOptions['log']> =>
  (level, event, fields, message) =>
    line(`${level} ${event}: ${message} ${JSON.stringify(fields)}`);

/**
 * Watches the folder, as the lifecycle's `milestones` loop: a scan every `intervalMs` (default
 * 1 s); a failing scan is logged at error level, counted, shows the component unhealthy and is
 * tried again after the back-off.
 */
export function watchMilestoneFolder(options: MilestoneFolderOptions & { intervalMs?: number; onResult?: (r: MilestoneResult) => void; lifecycle?: Lifecycle }): Running {
  const folder = openMilestoneFolder(options);
  const say = options.log ?? (() => undefined);
  const lifecycle = options.lifecycle ?? createLifecycle({ logger: { error: (fields, message) => say('warn', 'component.failed', fields, message), warn: (fields, message) => say('warn', 'component.recovered', fields, message) } });
  const polling = lifecycle.runLoop(
    'milestones',
    async () => {
      for (const r of await folder.scan()) options.onResult?.(r);
    },
    { everyMs: options.intervalMs ?? 1000 },
  );
  return {
    health: () => polling.health(),
    async stop() {
      await polling.stop();
      await folder.stop();
    },
  };
}
