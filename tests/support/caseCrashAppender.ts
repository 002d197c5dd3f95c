// Child process for the crash tests: begins new birth cases through the case log as fast as it
// can (each one a new case key, committed by the key store's writer thread, and an entry sealed
// under it), and prints each acknowledged case's stream, until killed.
import path from 'node:path';
import { openCaseLog } from '../../hub/src/log/caseLog.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';

const [dir, run] = process.argv.slice(2);
if (!dir || !run) throw new Error('usage: caseCrashAppender DIR RUN');
const log = openCaseLog(openSqliteEventStore(path.join(dir, 'log.sqlite')), dir);
let n = 0;
async function worker(): Promise<never> {
  for (;;) {
    const i = n++;
    const stream = log.caseStream(`11007007-G-${run}${i}-2026`);
    await log.append(stream, [{ eventId: `${run}-${i}`, type: 'Noted', data: { i, name: 'Zoë Ørsted' }, metadata: {} }]);
    process.stdout.write(`${stream}\n`);
  }
}
await Promise.all(Array.from({ length: 16 }, () => worker()));
