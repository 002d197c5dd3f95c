// The operator's decision that the hub continues from a log shorter than what it already
// signed (after a restore that could not bring back everything): written beside the log, applied
// and recorded in the log by the next start. Without it, such a hub does not start.
//
// The hub refuses to start when its log or tree is shorter than the latest checkpoint it signed
// (checkpoint.latest) or a witness cosigned: signing on would fork its own history. Restore the
// log from a backup first; this command is for what cannot be restored. It writes
// accept-shorter-log.json beside the log; the next `elfe hub start` records the decision in the
// log (a SecurityEventRecorded `shorter-log-accepted`), moves it to shorter-log-decisions.jsonl
// and signs a new checkpoint. Witnesses that cosigned the longer log refuse the new checkpoints:
// that is the fork, made visible.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { parseCheckpointBody, parseWitnessVerifierKey } from '../../../contracts/index.ts';
import { createLogger } from '../../../connectors/kit/logger.ts';
import { loadConfig } from '../config/config.ts';
import { logFiles, openHubEventStore } from '../log/openHubLog.ts';
import { TreeStore } from '../log/merkle/treeStore.ts';
import { readAcceptance, writeAcceptance, type ShorterLogAcceptance } from '../log/transparentLog.ts';
import { CosignatureStore } from '../witness/witnessing.ts';
import { exitCode, parseCommandArgs, UsageError, type Command } from './command.ts';
import { reportingErrors } from './partyCommands.ts';

/** The largest size signed so far and where it is recorded (checkpoint.latest, a witness). */
function signedSizeOf(dataDir: string, witnesses: readonly { verifierKey: string }[]): { size: number; by: string } {
  const files = logFiles(dataDir);
  let signed = { size: 0, by: 'nothing signed' };
  if (existsSync(files.latest)) {
    const note = readFileSync(files.latest, 'utf8');
    const body = parseCheckpointBody(`${note.split('\n\n')[0]}\n`);
    if (body) signed = { size: body.treeSize, by: files.latest };
  }
  if (witnesses.length > 0 && existsSync(files.cosignatures)) {
    const store = new CosignatureStore(files.cosignatures);
    try {
      for (const w of witnesses) {
        const key = parseWitnessVerifierKey(w.verifierKey);
        const size = key.success ? store.lastCosignedSize(key.data.name) : undefined;
        if (key.success && size !== undefined && size > signed.size) signed = { size, by: `witness ${key.data.name}` };
      }
    } finally {
      store.close();
    }
  }
  return signed;
}

const acceptShorterLog: Command = {
  path: ['hub', 'accept-shorter-log'],
  summary: 'let the hub continue from a log shorter than what it already signed (after restoring what could be restored); recorded in the log at the next start',
  usage: 'elfe hub accept-shorter-log --config FILE --size N --reason TEXT [--json]',
  run: (args, io) =>
    reportingErrors(io, async () => {
      const { values } = parseCommandArgs(args, { config: { type: 'string' }, size: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean' } });
      const size = Number(values.size);
      if (values.size === undefined || !Number.isSafeInteger(size) || size < 0) throw new UsageError('--size N (the entries the log holds now) is required');
      const reason = (values.reason ?? '').trim();
      if (reason.length < 5) throw new UsageError('--reason TEXT is required: why the signed entries cannot be restored');
      const config = loadConfig(values.config);
      const files = logFiles(config.dataDir);
      const store = await openHubEventStore(config.dataDir, config.log.store);
      const stored = await store.size().finally(() => store.close());
      if (stored !== size) throw Object.assign(new Error(`the log in ${config.dataDir} holds ${stored} entries, not ${size}`), { code: 'size-mismatch', hint: `pass --size ${stored} if this is the log to continue from` });
      const tree = existsSync(files.tree) ? new TreeStore(files.tree) : undefined;
      const treeSize = tree?.size ?? 0;
      tree?.close();
      const signed = signedSizeOf(config.dataDir, config.witnesses ?? []);
      if (signed.size <= size && treeSize <= size) {
        io.err(`nothing to accept: the log holds ${size} entries, the tree ${treeSize}, and the hub signed ${signed.size} (${signed.by})`);
        return exitCode.failed;
      }
      const earlier = readAcceptance(files.acceptance);
      const acceptance: ShorterLogAcceptance = { size, signedSize: Math.max(signed.size, treeSize), signedBy: signed.size >= treeSize ? signed.by : `${files.tree} (${treeSize} leaves)`, reason: reason.slice(0, 300), operator: os.userInfo().username, decidedAt: new Date().toISOString() };
      writeAcceptance(files.acceptance, acceptance);
      createLogger('hub').warn({ event: 'log.shorter-log-accepted', ...acceptance, replaces: earlier ?? null }, 'the operator accepted a shorter log; the next start records it in the log');
      io.out(values.json ? JSON.stringify({ accepted: acceptance, file: files.acceptance }) : `accepted: the hub continues from ${size} entries although ${acceptance.signedSize} were signed (${acceptance.signedBy}); written to ${files.acceptance}, recorded in the log at the next start`);
      return exitCode.ok;
    }, args.includes('--json')),
};

export const logCommands: readonly Command[] = [acceptShorterLog];
