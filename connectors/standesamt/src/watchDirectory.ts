// Watch-directory mode: a Standesamt's system drops XPersonenstand files into a folder, each
// birth as `<standesamtsnummer>_G_<jahr>_<eintragsnummer>.081020.xml` (the register key
// assigned at Beurkundung) with the parents' `….081021.xml` beside it: written first, or
// within the pair window. Files are written under another name and renamed (`.tmp`,
// dot-files and `~` files are left alone while they are written).
//
// What the folders mean, the promise to the Standesamt:
// - `done/` holds exactly what the hub registered: a file moves there only after the hub's
//   answer says accepted (or a duplicate of the same submission).
// - `failed/` holds what was refused, each arrival with `<base>.error.json` naming the code,
//   the hub's (or the reader's) message and what to do next.
// - While the hub does not answer, files stay in the folder and are sent again; the watcher
//   logs that it waits. Nothing is reported done before the answer.
// - Nothing is overwritten: a second arrival under a name already in `done/` or `failed/`
//   gets a numbered name (`<base>.081020.2.xml`) and its own outcome.
// - A 081020 whose 081021 has not arrived within the window is registered alone; a 081021
//   that arrives later joins as a correction with the parents' data. A lone 081021 past the
//   window, and files with other names, go to `failed/` with the reason.
// Message ids derive from the register key and the content, so picking the same files up
// again after a crash submits nothing twice, and the same bytes under another register key
// are another birth.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatRegisterKey, parseRegisterKey, type GeburtenregisterKey, type Submission } from '../../../contracts/index.ts';
import { correctionOf, registrationOf } from './messages.ts';
import { lifecycleLogOf, type ConnectorLog, type StandesamtConnector } from './standesamtConnector.ts';
import { createLifecycle, type Lifecycle, type Running } from '../../kit/lifecycle.ts';
import type { OutboxRecord } from './outbox.ts';
import { errorCode, isTemporary, settleFile, type DropError } from '../../kit/dropFolder.ts';

const birthFilePattern = /^(\d{8})_G_(\d{4})_([0-9A-Za-z.-]{1,20})\.(081020|081021)\.xml$/;

/** The reason a correction made from a late 081021 carries. */
export const lateSupplementReason = 'Angaben der Eltern (081021) nach der Beurkundung nachgereicht';

export interface WatchOptions {
  /** How long a 081020 waits for its 081021 before it is registered alone (default 5 s). */
  readonly pairWindowMs?: number;
  /**
   * Births sent and settled per round (default 256): a backlog of thousands is worked off in
   * rounds, each settled before the next, so a watcher that is slow or restarted often still
   * moves files to done/ instead of re-reading the whole backlog every time.
   */
  readonly batch?: number;
  readonly now?: () => Date;
  readonly log?: ConnectorLog;
}

export type WatchError = DropError;

/** The final outcome of one arrival (one birth's files picked up together). */
export interface WatchResult {
  /** The file names as they were dropped. */
  readonly files: readonly string[];
  readonly outcome: 'done' | 'failed';
  /** What was sent: the registration, or a correction made from a late 081021. */
  readonly kind?: 'registration' | 'correction';
  readonly registerKey?: string;
  readonly messageId?: string;
  /** The hub's answer for `done`. */
  readonly answer?: Pick<OutboxRecord, 'position' | 'duplicate' | 'routing'>;
  readonly error?: WatchError;
  readonly hint?: string;
  /** Where the files (and the error file) are now. */
  readonly movedTo: readonly string[];
}

const fileNamingHint = 'name each birth <8-digit Standesamtsnummer>_G_<Erstbeurkundungsjahr>_<Eintragsnummer>.081020.xml, with its 081021 as ….081021.xml';

/** What a Standesamt does about a refusal, by code. */
export function hintFor(code: string, registerKey?: string): string {
  const key = registerKey ?? 'KEY';
  switch (code) {
    case 'not-case-owner':
      return "the register key's Standesamtsnummer is not this office's: check the file name";
    case 'conflict':
      return `this birth is already registered with other content: send the change as a correction (elfe standesamt correct 081020.xml --with 081021.xml --register ${key} --reason TEXT)`;
    case 'date-in-future':
      return "a date lies in the future: check the birth date and the message time (and this machine's clock), then drop the corrected files again";
    case 'unknown-case':
      return 'the hub knows no registration of this birth: register it first';
    case 'unknown-file-name':
    case 'invalid-register-key':
      return fileNamingHint;
    case 'supplement-without-notice':
      return "drop the birth's 081020 together with (or right after) its 081021";
    case 'role-not-allowed':
    case 'producer-mismatch':
    case 'certificate-revoked':
    case 'certificate-expired':
    case 'certificate-invalid':
    case 'unknown-signer':
      return "this office's certificate or configuration is not accepted by the hub: ask the exchange's operator";
    default:
      return 'the XML was refused: fix the file (see the path) and drop it again under its name';
  }
}

/** The first free arrival slot in `dir` for the names written: `<base>.<kind>.xml`, then `<base>.<kind>.2.xml`, … */
function slotNames(dir: string, base: string, kinds: readonly string[], withError: boolean): { files: Map<string, string>; error: string } {
  for (let n = 1; ; n++) {
    const suffix = n === 1 ? '' : `.${n}`;
    const files = new Map(kinds.map((k) => [k, `${base}.${k}${suffix}.xml`] as const));
    const error = `${base}.error${suffix}.json`;
    const taken = [...files.values(), ...(withError ? [error] : [])].some((f) => existsSync(path.join(dir, f)));
    if (!taken) return { files, error };
  }
}

interface Arrival {
  readonly base: string;
  readonly notice?: string;
  readonly supplement?: string;
}

interface Candidate {
  readonly arrival: Arrival;
  readonly key: GeburtenregisterKey;
  readonly kind: 'registration' | 'correction';
  readonly event: Submission;
}

/** A Standesamt's drop folder: `scan()` picks up what is complete and settles it by the hub's answer. */
export class DropFolder {
  readonly #dir: string;
  readonly #done: string;
  readonly #failed: string;
  readonly #connector: StandesamtConnector;
  readonly #options: WatchOptions;
  /** Arrivals already reported as waiting (for the 081021, or for the hub's answer). */
  readonly #waitingNoted = new Set<string>();
  #more = false;

  /** The last scan filled its round and settled some of it: more is ready at once. */
  get more(): boolean {
    return this.#more;
  }

  constructor(dir: string, connector: StandesamtConnector, options: WatchOptions = {}) {
    this.#dir = dir;
    this.#done = path.join(dir, 'done');
    this.#failed = path.join(dir, 'failed');
    this.#connector = connector;
    this.#options = options;
    mkdirSync(this.#done, { recursive: true });
    mkdirSync(this.#failed, { recursive: true });
  }

  #now = () => (this.#options.now ?? (() => new Date()))();
  #log: ConnectorLog = (level, event, fields, message) => this.#options.log?.(level, event, fields, message);

  #noteOnce(id: string, event: string, fields: Record<string, unknown>, message: string) {
    if (this.#waitingNoted.has(`${event}:${id}`)) return;
    this.#waitingNoted.add(`${event}:${id}`);
    this.#log('info', event, fields, message);
  }

  /** Moves an arrival's files into `done/` or `failed/` under a free slot; writes the error file beside them. */
  #settle(to: 'done' | 'failed', arrival: Arrival, error?: { error: WatchError; hint: string; registerKey?: string; messageId?: string }): string[] {
    const dir = to === 'done' ? this.#done : this.#failed;
    const present = ([['081021', arrival.supplement], ['081020', arrival.notice]] as const).filter((e): e is readonly ['081021' | '081020', string] => e[1] !== undefined);
    const slot = slotNames(dir, arrival.base, present.map(([k]) => k), error !== undefined);
    const moved: string[] = [];
    if (error) {
      const errorFile = path.join(dir, slot.error);
      writeFileSync(errorFile, `${JSON.stringify({ ...error, files: present.map(([, f]) => f), at: this.#now().toISOString() }, null, 2)}\n`, { flag: 'wx' });
      moved.push(errorFile);
    }
    // The 081021 first: a crash between the two moves leaves the 081020, which finds its pair in done/.
    for (const [kind, file] of present) {
      const target = path.join(dir, slot.files.get(kind)!);
      renameSync(path.join(this.#dir, file), target);
      moved.push(target);
    }
    this.#waitingNoted.forEach((k) => k.endsWith(`:${arrival.base}`) && this.#waitingNoted.delete(k));
    return moved;
  }

  #fail(arrival: Arrival, error: WatchError, extra: { registerKey?: string; messageId?: string; kind?: 'registration' | 'correction' } = {}): WatchResult {
    const hint = hintFor(error.code, extra.registerKey);
    const movedTo = this.#settle('failed', arrival, { error, hint, ...(extra.registerKey ? { registerKey: extra.registerKey } : {}), ...(extra.messageId ? { messageId: extra.messageId } : {}) });
    this.#log('warn', 'watch.failed', { code: error.code, ...(extra.messageId ? { messageId: extra.messageId } : {}) }, `moved to failed/ (${error.code})`);
    return { files: [arrival.notice, arrival.supplement].filter((f): f is string => f !== undefined), outcome: 'failed', ...extra, error, hint, movedTo };
  }

  /** A file that is not named like a birth: to `failed/` under its own name, with `<name>.error.json`. */
  #failUnknown(name: string): WatchResult {
    const error = { code: 'unknown-file-name', message: `${name.slice(0, 200)} is not named like a birth (…_G_…_….081020.xml or .081021.xml)` };
    const [errorFile, target] = settleFile(this.#dir, name, this.#failed, this.#now(), { error, hint: hintFor(error.code) });
    this.#log('warn', 'watch.failed', { code: error.code }, 'a file with an unexpected name moved to failed/');
    return { files: [name], outcome: 'failed', error, hint: hintFor(error.code), movedTo: [target!, errorFile!] };
  }

  #read(file: string): string {
    return readFileSync(file, 'utf8');
  }

  #ageMs(file: string): number {
    return this.#now().getTime() - statSync(path.join(this.#dir, file)).mtimeMs;
  }

  /** The registration a pair in `done/` was accepted as, if the outbox says so. */
  #registeredPairId(identity: Parameters<typeof registrationOf>[0], key: GeburtenregisterKey, notice: string, supplement: string): string | undefined {
    const event = registrationOf(identity, { notice081020: notice, supplement081021: supplement, registerKey: key });
    if (!event.success) return undefined;
    return this.#connector.status(event.data.messageId)?.status === 'accepted' ? event.data.messageId : undefined;
  }

  /** Picks up every complete birth once and settles those the hub answered. */
  async scan(): Promise<WatchResult[]> {
    const results: WatchResult[] = [];
    const arrivals = new Map<string, { keyText: string; notice?: string; supplement?: string }>();
    for (const entry of readdirSync(this.#dir, { withFileTypes: true })) {
      if (!entry.isFile() || isTemporary(entry.name)) continue;
      const m = birthFilePattern.exec(entry.name);
      if (!m) {
        results.push(this.#failUnknown(entry.name));
        continue;
      }
      const base = entry.name.slice(0, -'.081020.xml'.length);
      const a = arrivals.get(base) ?? { keyText: `${m[1]}/G/${m[2]}/${m[3]}` };
      if (m[4] === '081020') a.notice = entry.name;
      else a.supplement = entry.name;
      arrivals.set(base, a);
    }
    const identity = this.#connector.identity;
    const window = this.#options.pairWindowMs ?? 5000;
    const candidates: Candidate[] = [];
    const batch = Math.max(1, this.#options.batch ?? 256);
    this.#more = false;
    let full = false;
    for (const [base, { keyText, ...files }] of [...arrivals].sort(([a], [b]) => a.localeCompare(b))) {
      if (candidates.length >= batch) {
        full = true;
        break;
      }
      const arrival: Arrival = { base, ...files };
      const parsed = parseRegisterKey(keyText);
      if (!parsed.success) {
        results.push(this.#fail(arrival, { code: 'invalid-register-key', message: parsed.error.message }));
        continue;
      }
      const key = parsed.data;
      const registerKey = formatRegisterKey(key);
      const doneNotice = path.join(this.#done, `${base}.081020.xml`);
      const doneSupplement = path.join(this.#done, `${base}.081021.xml`);
      try {
        if (files.notice && !files.supplement) {
          // The rest of a pair the hub accepted (a crash between the moves): it joins its pair.
          if (existsSync(doneSupplement) && this.#registeredPairId(identity, key, this.#read(path.join(this.#dir, files.notice)), this.#read(doneSupplement))) {
            const movedTo = this.#settle('done', arrival);
            results.push({ files: [files.notice], outcome: 'done', kind: 'registration', registerKey, movedTo });
            continue;
          }
          if (this.#ageMs(files.notice) < window) {
            this.#noteOnce(base, 'watch.awaiting-081021', { windowMs: window }, `a 081020 waits up to ${window} ms for its 081021`);
            continue;
          }
          this.#log('info', 'watch.registering-alone', { windowMs: window }, `no 081021 within ${window} ms: the 081020 is registered alone; a later 081021 is sent as a correction`);
        }
        if (files.supplement && !files.notice) {
          const supplement = this.#read(path.join(this.#dir, files.supplement));
          if (existsSync(doneNotice)) {
            const notice = this.#read(doneNotice);
            // The rest of an accepted pair, or the very 081021 registered already: done.
            if (this.#registeredPairId(identity, key, notice, supplement) || (existsSync(doneSupplement) && this.#read(doneSupplement) === supplement)) {
              const movedTo = this.#settle('done', arrival);
              results.push({ files: [files.supplement], outcome: 'done', kind: 'registration', registerKey, movedTo });
              continue;
            }
            // A late 081021: the registration as it reads now, with the parents' data, as a correction.
            const correction = correctionOf(identity, { notice081020: notice, supplement081021: supplement, registerKey: key, reason: lateSupplementReason });
            if (!correction.success) {
              results.push(this.#fail(arrival, correction.error.toJSON(), { registerKey, kind: 'correction' }));
              continue;
            }
            candidates.push({ arrival, key, kind: 'correction', event: correction.data });
            continue;
          }
          if (this.#ageMs(files.supplement) < window) {
            this.#noteOnce(base, 'watch.awaiting-081020', { windowMs: window }, `a 081021 waits up to ${window} ms for its 081020`);
            continue;
          }
          results.push(this.#fail(arrival, { code: 'supplement-without-notice', message: `no 081020 for this 081021 within ${window} ms, and none registered in done/` }, { registerKey }));
          continue;
        }
        const notice = this.#read(path.join(this.#dir, files.notice!));
        const supplement = files.supplement ? this.#read(path.join(this.#dir, files.supplement)) : undefined;
        const registration = registrationOf(identity, { notice081020: notice, ...(supplement !== undefined ? { supplement081021: supplement } : {}), registerKey: key });
        if (!registration.success) {
          results.push(this.#fail(arrival, registration.error.toJSON(), { registerKey, kind: 'registration' }));
          continue;
        }
        candidates.push({ arrival, key, kind: 'registration', event: registration.data });
      } catch (error) {
        // A file that vanished or cannot be read while we looked: the next scan sees it again.
        // The reason's code only: messages carry paths, and paths carry register keys.
        this.#log('warn', 'watch.read-failed', { reason: errorCode(error) }, 'a dropped file could not be read; trying again');
      }
    }

    const sent: Candidate[] = [];
    /** Registered before this arrival (a re-drop of the same birth): the outbox kept the hub's answer. */
    const answeredBefore = new Set<string>();
    for (const c of candidates) if (this.#connector.status(c.event.messageId)?.status === 'accepted') answeredBefore.add(c.event.messageId);
    // The round's submissions stored in one commit.
    const queued = this.#connector.enqueueAll(candidates.map((c) => c.event));
    candidates.forEach((c, i) => {
      const q = queued[i]!;
      if (!q.success) results.push(this.#fail(c.arrival, q.error, { registerKey: formatRegisterKey(c.key), messageId: c.event.messageId, kind: c.kind }));
      else sent.push(c);
    });
    if (sent.length > 0) await this.#connector.flush();
    for (const c of sent) {
      const registerKey = formatRegisterKey(c.key);
      const status = this.#connector.status(c.event.messageId);
      if (status?.status === 'accepted') {
        const movedTo = this.#settle('done', c.arrival);
        const duplicate = status.duplicate || answeredBefore.has(c.event.messageId);
        this.#log('info', 'watch.done', { messageId: c.event.messageId, kind: c.kind, duplicate }, 'registered by the hub: moved to done/');
        results.push({
          files: [c.arrival.notice, c.arrival.supplement].filter((f): f is string => f !== undefined),
          outcome: 'done',
          kind: c.kind,
          registerKey,
          messageId: c.event.messageId,
          answer: { position: status.position, duplicate, routing: status.routing },
          movedTo,
        });
      } else if (status?.status === 'refused') {
        results.push(this.#fail(c.arrival, { code: status.code ?? 'refused', message: status.error ?? 'refused by the hub' }, { registerKey, messageId: c.event.messageId, kind: c.kind }));
      } else {
        this.#noteOnce(c.arrival.base, 'watch.awaiting-hub', { messageId: c.event.messageId }, "kept in the folder until the hub answers (it is sent again)");
      }
    }
    // A full round that settled something: the next one follows at once. One the hub left
    // unanswered waits for the interval (its entries are sent again from the outbox).
    this.#more = full && results.length > 0;
    return results;
  }
}

/** Picks up every complete birth in `dir` once (one scan). */
export async function scanDirectory(dir: string, connector: StandesamtConnector, options: WatchOptions = {}): Promise<WatchResult[]> {
  const folder = new DropFolder(dir, connector, options);
  const results: WatchResult[] = [];
  do results.push(...(await folder.scan()));
  while (folder.more);
  return results;
}

/**
 * Scans every `intervalMs` until stopped, as the lifecycle's `watcher` loop: a failing scan is
 * logged at error level (its code only: messages carry paths, and paths carry register keys),
 * counted, and tried again after the back-off.
 */
export function watchDirectory(dir: string, connector: StandesamtConnector, options: WatchOptions & { intervalMs?: number; onResult?: (r: WatchResult) => void; lifecycle?: Lifecycle } = {}): Running {
  const folder = new DropFolder(dir, connector, options);
  const lifecycle = options.lifecycle ?? createLifecycle({ logger: lifecycleLogOf(options.log) });
  return lifecycle.runLoop(
    'watcher',
    async () => {
      do {
        let results: WatchResult[];
        try {
          results = await folder.scan();
        } catch (error) {
          throw new Error(`scanning the drop folder failed (${errorCode(error)})`);
        }
        for (const r of results) options.onResult?.(r);
      } while (folder.more);
    },
    { everyMs: options.intervalMs ?? 1000 },
  );
}
