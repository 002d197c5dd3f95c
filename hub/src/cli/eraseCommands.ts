// `elfe erase`: crypto-shredding of one birth case, run on the STOPPED hub's data directory
// (it takes the hub's lock, so it refuses while the hub runs; the running hub erases by
// itself only through retention). It logs `CaseErased` and destroys the case's key; the
// hub's next start sends the new checkpoint to the witnesses.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseRegisterKey } from '../../../contracts/index.ts';
import { acquireDataDirLock, DataDirLockedError } from '../app/dataDirLock.ts';
import { openCaseLog } from '../log/caseLog.ts';
import { defaultCheckpointPolicy, logFiles, openHubLog } from '../log/openHubLog.ts';
import { exitCode, parseCommandArgs, UsageError, type Command } from './command.ts';

const erase: Command = {
  path: ['erase'],
  summary: "erase a birth case: destroy its key (its entries stay as ciphertext), log CaseErased; on the stopped hub's data directory",
  usage: 'elfe erase --register KEY [--reason TEXT] [--data DIR] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { register: { type: 'string' }, reason: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } });
    if (!values.register) throw new UsageError('--register KEY is required (e.g. 11007007/G/2026/334)');
    const key = parseRegisterKey(values.register);
    if (!key.success) throw new UsageError(`--register: ${key.error.message}`);
    const dataDir = path.resolve(typeof values.data === 'string' ? values.data : (process.env.ELFE_DATA_DIR ?? path.join('data', 'hub')));
    if (!existsSync(logFiles(dataDir).events)) throw new UsageError(`no log in ${dataDir} (use --data DIR)`);
    const answer = (ok: boolean, body: Record<string, unknown>, text: string) => {
      io.out(values.json ? JSON.stringify(body) : text);
      return ok ? exitCode.ok : exitCode.invalidInput;
    };
    let lock;
    try {
      lock = acquireDataDirLock(dataDir, 'hub');
    } catch (error) {
      if (error instanceof DataDirLockedError) return answer(false, { error: { code: 'hub-running', message: error.message } }, `not erased: ${error.message}; stop the hub first (a running hub erases by retention)`);
      throw error;
    }
    try {
      const log = openCaseLog(await openHubLog({ dataDir, checkpoint: defaultCheckpointPolicy }), dataDir);
      try {
        await log.recover();
        const done = await log.erase(log.caseStream(key.data), values.reason ?? 'Art. 17 DSGVO: erasure on request');
        if (!done) return answer(false, { erased: false, error: { code: 'unknown-case', message: 'no birth case with this register key holds a key (unknown, or erased before)' } }, 'not erased: unknown case, or erased before');
        return answer(true, { erased: true, caseId: done.caseId, position: done.position }, `erased case ${done.caseId}: CaseErased at position ${done.position}`);
      } finally {
        await log.close();
      }
    } finally {
      lock.release();
    }
  },
};

export const eraseCommands: readonly Command[] = [erase];
