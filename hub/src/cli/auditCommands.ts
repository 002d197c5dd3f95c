import { existsSync, readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import {
  keyIdOf,
  parseVerifierKey,
  verifierKey,
  verifyConsistencyProof,
  verifyInclusionProof,
  type NoteVerifier,
} from '../../../contracts/index.ts';
import { verifyLog } from '../audit/verifyLog.ts';
import { readPrivateKey } from '../keys/keyDirectory.ts';
import { defaultOrigin, logFiles, openHubLog } from '../log/openHubLog.ts';
import { openSqliteEventStore } from '../log/sqlite/sqliteEventStore.ts';
import { ProofUnavailableError } from '../log/transparentLog.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';

const dataDirOf = (value: unknown): string => path.resolve(typeof value === 'string' ? value : (process.env.ELFE_DATA_DIR ?? path.join('data', 'hub')));

function requireLog(dataDir: string): void {
  if (!existsSync(logFiles(dataDir).events)) throw new UsageError(`no log in ${dataDir} (use --data DIR)`);
}

/** The hub's verifier: from `--key` (a verifier key or a PEM public key), else the data directory's hub key. */
function verifierFrom(keyFile: string | undefined, dataDir: string, origin: string, io: Io): NoteVerifier {
  let text: string;
  if (keyFile) {
    text = readFileSync(keyFile, 'utf8').trim();
  } else {
    const hubKey = logFiles(dataDir).hubKey;
    if (!existsSync(hubKey)) throw new UsageError('no hub key found: pass --key HUB.pub');
    io.err('note: checking against the key in the data directory; an auditor passes the published key with --key');
    text = verifierKey(origin, createPublicKey(readPrivateKey(hubKey)));
  }
  if (text.startsWith('-----BEGIN')) text = verifierKey(origin, createPublicKey(text));
  const parsed = parseVerifierKey(text);
  if (!parsed.success) throw new UsageError(`--key: ${parsed.error.message}`);
  return parsed.data;
}

const originOfNote = (note: unknown): string => (typeof note === 'string' && note.split('\n')[0]) || defaultOrigin;

const keysShow: Command = {
  path: ['keys', 'show'],
  summary: "print the hub's public key (PEM, key id, signed-note verifier key)",
  usage: 'elfe keys show [--data DIR] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { data: { type: 'string' }, json: { type: 'boolean' } });
    const file = logFiles(dataDirOf(values.data)).hubKey;
    if (!existsSync(file)) throw new UsageError(`no hub key in ${path.dirname(file)}; it is created on the first start of the hub`);
    const publicKey = createPublicKey(readPrivateKey(file));
    const shown = { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyId: keyIdOf(publicKey), verifierKey: verifierKey(defaultOrigin, publicKey) };
    io.out(values.json ? JSON.stringify(shown) : `${shown.publicKeyPem}key id:       ${shown.keyId}\nverifier key: ${shown.verifierKey}`);
    return exitCode.ok;
  },
};

const auditVerify: Command = {
  path: ['audit', 'verify'],
  summary: 'replay the whole log: leaves, roots, checkpoint signatures, gap-free positions',
  usage: 'elfe audit verify [--data DIR] [--key HUB.pub] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { data: { type: 'string' }, key: { type: 'string' }, json: { type: 'boolean' } });
    const dataDir = dataDirOf(values.data);
    requireLog(dataDir);
    const verifier = verifierFrom(values.key, dataDir, defaultOrigin, io);
    const store = openSqliteEventStore(logFiles(dataDir).events);
    const showProgress = io.isTTY && !values.json;
    try {
      const report = await verifyLog(store, verifier, {
        treeFile: logFiles(dataDir).tree,
        ...(showProgress ? { onProgress: (done: number, total: number) => io.err(`\rverifying ${done}/${total} entries`) } : {}),
      });
      const { uncovered: _uncovered, ...summary } = report;
      if (values.json) io.out(JSON.stringify(summary));
      else if (report.ok) io.out(`intact: ${report.entries} entries, ${report.checkpoints} checkpoints (${report.uncovered} entries after the last checkpoint)`);
      else io.out(`NOT intact: first bad position ${report.firstBadPosition}: ${report.reason}`);
      return report.ok ? exitCode.ok : exitCode.failed;
    } finally {
      await store.close();
    }
  },
};

const auditProof: Command = {
  path: ['audit', 'proof'],
  summary: 'inclusion proof of an entry (by event or message id) against the latest checkpoint',
  usage: 'elfe audit proof ID [--data DIR] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { data: { type: 'string' }, json: { type: 'boolean' } });
    const [id, ...extra] = positionals;
    if (!id || extra.length > 0) throw new UsageError('expects exactly one event or message id');
    const dataDir = dataDirOf(values.data);
    requireLog(dataDir);
    const log = await openHubLog({ dataDir, checkpoint: { everyEntries: Number.MAX_SAFE_INTEGER, everyMs: 0 } });
    try {
      const entry = await log.getByEventId(id);
      if (!entry) {
        io.out(JSON.stringify({ error: { code: 'unknown-entry', message: `no entry with id ${id}` } }));
        return exitCode.invalidInput;
      }
      const proof = await log.inclusionProof(entry.position);
      io.out(values.json ? JSON.stringify(proof) : JSON.stringify(proof, null, 2));
      return exitCode.ok;
    } catch (error) {
      if (error instanceof ProofUnavailableError) {
        io.out(JSON.stringify({ error: { code: error.code, message: error.message } }));
        return exitCode.failed;
      }
      throw error;
    } finally {
      await log.close();
    }
  },
};

const auditVerifyProof: Command = {
  path: ['audit', 'verify-proof'],
  summary: 'verify an inclusion or consistency proof offline with the hub key',
  usage: 'elfe audit verify-proof PROOF.json --key HUB.pub [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { key: { type: 'string' }, json: { type: 'boolean' } });
    const [file, ...extra] = positionals;
    if (!file || extra.length > 0) throw new UsageError('expects exactly one PROOF.json');
    if (!values.key) throw new UsageError('--key HUB.pub is required: a proof is only as good as the key it is checked with');
    let proof: { kind?: unknown; checkpoint?: unknown; to?: unknown };
    try {
      proof = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      io.out(JSON.stringify({ ok: false, error: { code: 'malformed-proof', message: `${file} is not JSON` } }));
      return exitCode.invalidInput;
    }
    const verifier = verifierFrom(values.key, '', originOfNote(proof.checkpoint ?? proof.to), io);
    const result = proof.kind === 'elfe-consistency-proof' ? verifyConsistencyProof(proof, verifier) : verifyInclusionProof(proof, verifier);
    if (result.success) {
      io.out(values.json ? JSON.stringify({ ok: true, kind: proof.kind }) : `valid ${String(proof.kind)}`);
      return exitCode.ok;
    }
    io.out(values.json ? JSON.stringify({ ok: false, error: { code: result.error.code, message: result.error.message } }) : `INVALID (${result.error.code}): ${result.error.message}`);
    return exitCode.failed;
  },
};

const auditConsistency: Command = {
  path: ['audit', 'consistency'],
  summary: 'consistency proof between two checkpoints, verified offline',
  usage: 'elfe audit consistency --from SIZE [--to SIZE] [--data DIR] [--key HUB.pub] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { from: { type: 'string' }, to: { type: 'string' }, data: { type: 'string' }, key: { type: 'string' }, json: { type: 'boolean' } });
    const from = Number(values.from);
    if (!Number.isSafeInteger(from) || from < 0) throw new UsageError('--from SIZE is required');
    const to = values.to === undefined ? undefined : Number(values.to);
    const dataDir = dataDirOf(values.data);
    requireLog(dataDir);
    const log = await openHubLog({ dataDir, checkpoint: { everyEntries: Number.MAX_SAFE_INTEGER, everyMs: 0 } });
    try {
      const proof = log.consistencyProof(from, to);
      const verified = verifyConsistencyProof(proof, verifierFrom(values.key, dataDir, defaultOrigin, io));
      const out = { proof, verified: verified.success, ...(verified.success ? {} : { error: { code: verified.error.code, message: verified.error.message } }) };
      io.out(values.json ? JSON.stringify(out) : JSON.stringify(out, null, 2));
      return verified.success ? exitCode.ok : exitCode.failed;
    } catch (error) {
      if (error instanceof ProofUnavailableError) {
        io.out(JSON.stringify({ error: { code: error.code, message: error.message } }));
        return exitCode.invalidInput;
      }
      throw error;
    } finally {
      await log.close();
    }
  },
};

export const auditCommands: readonly Command[] = [keysShow, auditVerify, auditProof, auditVerifyProof, auditConsistency];
