// Watch-directory mode: a Standesamt's system drops XPersonenstand files into a folder; each
// birth is `<standesamtsnummer>_G_<jahr>_<eintragsnummer>.081020.xml` (the register key
// assigned at Beurkundung) with, optionally, the parents' `….081021.xml` beside it — write
// the 081021 first, or both before the 081020. Submitted files move to `done/`, refused ones to
// `failed/` with a `.error.json` that says why. The message id derives from the files' bytes,
// so picking up the same files again after a crash submits nothing twice.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deterministicUuid, parseRegisterKey, sha256Hex } from '../../../contracts/index.ts';
import type { StandesamtConnector } from './standesamtConnector.ts';

const noticePattern = /^(\d{8})_G_(\d{4})_([0-9A-Za-z.-]{1,20})\.081020\.xml$/;

export interface WatchResult {
  readonly file: string;
  readonly outcome: 'submitted' | 'failed';
  readonly messageId?: string;
  readonly error?: { code: string; message: string; path?: string };
}

/** Picks up every complete birth in `dir` once. */
export async function scanDirectory(dir: string, connector: StandesamtConnector, now: () => Date = () => new Date()): Promise<WatchResult[]> {
  const done = path.join(dir, 'done');
  const failed = path.join(dir, 'failed');
  mkdirSync(done, { recursive: true });
  mkdirSync(failed, { recursive: true });
  const results: WatchResult[] = [];
  for (const name of readdirSync(dir).sort()) {
    const m = noticePattern.exec(name);
    if (!m) continue;
    const base = name.slice(0, -'.081020.xml'.length);
    const supplementName = `${base}.081021.xml`;
    const files = [name, ...(existsSync(path.join(dir, supplementName)) ? [supplementName] : [])];
    const move = (to: string) => files.forEach((f) => renameSync(path.join(dir, f), path.join(to, f)));
    const notice = readFileSync(path.join(dir, name), 'utf8');
    const supplement = files[1] ? readFileSync(path.join(dir, files[1]), 'utf8') : undefined;
    const key = parseRegisterKey(`${m[1]}/G/${m[2]}/${m[3]}`);
    if (!key.success) {
      const error = { code: 'invalid-register-key', message: key.error.message };
      writeFileSync(path.join(failed, `${base}.error.json`), JSON.stringify({ error }, null, 2));
      move(failed);
      results.push({ file: name, outcome: 'failed', error });
      continue;
    }
    const messageId = deterministicUuid('standesamt-file', sha256Hex(notice), sha256Hex(supplement ?? ''));
    const submitted = await connector.submitXml({ notice081020: notice, ...(supplement !== undefined ? { supplement081021: supplement } : {}), registerKey: key.data, messageId, occurredAt: now().toISOString() });
    if (submitted.success) {
      move(done);
      results.push({ file: name, outcome: 'submitted', messageId });
    } else {
      const error = submitted.error.toJSON();
      writeFileSync(path.join(failed, `${base}.error.json`), JSON.stringify({ error }, null, 2));
      move(failed);
      results.push({ file: name, outcome: 'failed', error });
    }
  }
  return results;
}

/** Scans every `intervalMs` until stopped. */
export function watchDirectory(dir: string, connector: StandesamtConnector, options: { intervalMs?: number; onResult?: (r: WatchResult) => void } = {}): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      for (const r of await scanDirectory(dir, connector)) options.onResult?.(r);
    });
  }, options.intervalMs ?? 1000);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
