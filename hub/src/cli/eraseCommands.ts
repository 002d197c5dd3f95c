// `elfe erase`: crypto-shredding of one birth case. On a running hub it asks the hub through
// its API, as the hub's operator (the hub's own certificate in its data directory, mutual
// TLS); on a stopped hub it works on the data directory itself (taking the hub's lock). Both
// end in the same log entry (`CaseErased`) and the same destroyed key; the recipients are told
// when the hub runs. Unknown and already erased cases get typed answers.
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { parseRegisterKey } from '../../../contracts/index.ts';
import { acquireDataDirLock, DataDirLockedError } from '../app/dataDirLock.ts';
import { loadConfig } from '../config/config.ts';
import { openCaseLog } from '../log/caseLog.ts';
import { defaultCheckpointPolicy, logFiles, openHubLog } from '../log/openHubLog.ts';
import { exitCode, parseCommandArgs, UsageError, type Command } from './command.ts';

interface Outcome {
  readonly ok: boolean;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

const refused = (code: string, message: string, text: string): Outcome => ({ ok: false, body: { erased: false, error: { code, message } }, text });

/** The running hub's answer to `POST /api/v1/erasures`, as the hub's operator. */
async function eraseThroughApi(configFile: string, registerKey: string, reason: string | undefined): Promise<Outcome> {
  const config = loadConfig(configFile);
  if (!config.api) return refused('api-disabled', 'the hub runs without its API (no "api" in its configuration)', 'not erased: the hub runs without its API; stop the hub and run elfe erase again, or enable "api"');
  const dir = config.dataDir;
  const body = JSON.stringify({ registerKey, ...(reason ? { reason } : {}) });
  const answer = await new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
    const req = https.request(
      {
        host: config.api!.host,
        port: config.api!.port,
        path: '/api/v1/erasures',
        method: 'POST',
        key: readFileSync(path.join(dir, 'key.pem')),
        cert: readFileSync(path.join(dir, 'cert.pem')),
        ca: readFileSync(config.trust.caCertFile),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> });
          } catch {
            resolve({ status: res.statusCode ?? 0, json: { title: text.slice(0, 200) } });
          }
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('the hub did not answer within 30 s')));
    req.end(body);
  });
  if (answer.status === 200) return { ok: true, body: answer.json, text: `erased case ${String(answer.json['caseId'])} on the running hub: CaseErased at position ${String(answer.json['position'])}; the recipients are told` };
  const detail = String(answer.json['detail'] ?? answer.json['title'] ?? '');
  if (answer.status === 404) return refused('unknown-case', detail, 'not erased: unknown case (never registered here)');
  if (answer.status === 410) return refused('already-erased', detail, `not erased: ${detail}`);
  return refused('refused', `${answer.status} ${String(answer.json['title'] ?? '')}: ${detail}`, `not erased: the hub answered ${answer.status} (${detail})`);
}

/** On the stopped hub's data directory (its lock taken): the same entry and the same destroyed key. */
async function eraseStopped(dataDir: string, registerKey: Parameters<ReturnType<typeof openCaseLog>['caseStream']>[0], reason: string | undefined, lock: { release(): void }): Promise<Outcome> {
  try {
    const log = openCaseLog(await openHubLog({ dataDir, checkpoint: defaultCheckpointPolicy }), dataDir);
    try {
      await log.recover();
      const stream = log.caseStream(registerKey);
      const done = await log.erase(stream, reason ?? 'Art. 17 DSGVO: erasure on request');
      if (done) return { ok: true, body: { erased: true, caseId: done.caseId, position: done.position }, text: `erased case ${done.caseId}: CaseErased at position ${done.position}; the recipients are told when the hub starts` };
      for await (const e of log.readStream(stream)) if (e.type === 'CaseErased') return refused('already-erased', 'this birth case was erased before', 'not erased: erased before');
      return refused('unknown-case', 'no birth case with this register key (never registered here)', 'not erased: unknown case');
    } finally {
      await log.close();
    }
  } finally {
    lock.release();
  }
}

const erase: Command = {
  path: ['erase'],
  summary: "erase a birth case: destroy its key (its entries stay as ciphertext), log CaseErased, tell its recipients; through the running hub's API, or on the stopped hub's data directory",
  usage: 'elfe erase --register KEY [--reason TEXT] [--config HUB-CONFIG | --data DIR] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { register: { type: 'string' }, reason: { type: 'string' }, data: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } });
    if (!values.register) throw new UsageError('--register KEY is required (e.g. 11007007/G/2026/334)');
    const key = parseRegisterKey(values.register);
    if (!key.success) throw new UsageError(`--register: ${key.error.message}`);
    const configFile = values.config ?? (values.data && existsSync(path.join(values.data, 'config.json')) ? path.join(values.data, 'config.json') : undefined);
    const dataDir = values.config ? loadConfig(values.config).dataDir : path.resolve(values.data ?? process.env.ELFE_DATA_DIR ?? path.join('data', 'hub'));
    if (!existsSync(logFiles(dataDir).events)) throw new UsageError(`no log in ${dataDir} (use --data DIR or --config FILE)`);
    let outcome: Outcome;
    try {
      outcome = await eraseStopped(dataDir, key.data, values.reason, acquireDataDirLock(dataDir, 'hub'));
    } catch (error) {
      if (!(error instanceof DataDirLockedError)) throw error;
      // The hub runs: ask it, as its operator.
      outcome = configFile
        ? await eraseThroughApi(configFile, values.register, values.reason)
        : refused('hub-running', error.message, `not erased: the hub runs and no configuration names its API (use --config ${path.join(dataDir, 'config.json')})`);
    }
    io.out(values.json ? JSON.stringify(outcome.body) : outcome.text);
    return outcome.ok ? exitCode.ok : exitCode.invalidInput;
  },
};

export const eraseCommands: readonly Command[] = [erase];
