import { existsSync, readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import {
  formatTlogProof,
  keyIdOf,
  logEntryBytes,
  openCheckpoint,
  parseCheckpointBody,
  parseEvent,
  parseVerifierKey,
  parseWitnessVerifierKey,
  tlogProofHeader,
  verifyCosignature,
  verifyTlogProof,
  type Checkpoint,
  type CosignatureVerifier,
  verifierKey,
  verifyConsistencyProof,
  verifyInclusionProof,
  type NoteVerifier,
} from '../../../contracts/index.ts';
import { verifyLog } from '../audit/verifyLog.ts';
import { SignatureAudit } from '../audit/verifySignatures.ts';
import { CaseKeyStore, caseKeyFile } from '../log/caseKeys.ts';
import { readPrivateKey } from '../keys/keyDirectory.ts';
import { defaultOrigin, inspectHubLog, logFiles, openHubEventStore } from '../log/openHubLog.ts';
import type { TransparentLog } from '../log/transparentLog.ts';
import { loadConfig } from '../config/config.ts';
import { openSqliteEventStore } from '../log/sqlite/sqliteEventStore.ts';
import { checkpointStream } from '../log/streams.ts';
import { ProofUnavailableError } from '../log/transparentLog.ts';
import { CosignatureStore } from '../witness/witnessing.ts';
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

/** Witness verifier keys given inline or as files holding them. */
function witnessVerifiers(values: readonly string[] | undefined): CosignatureVerifier[] {
  return (values ?? []).map((value) => {
    const text = !parseWitnessVerifierKey(value).success && existsSync(value) ? readFileSync(value, 'utf8') : value;
    const parsed = parseWitnessVerifierKey(text);
    if (!parsed.success) throw new UsageError(`--witness-key: ${parsed.error.message}`);
    return parsed.data;
  });
}

/** Stored witness cosignature lines for the checkpoint of `treeSize` (none without a cosignature store). */
function cosignatureLines(dataDir: string, treeSize: number): string {
  const file = logFiles(dataDir).cosignatures;
  if (!existsSync(file)) return '';
  const store = new CosignatureStore(file);
  try {
    return store.linesFor(treeSize);
  } finally {
    store.close();
  }
}

type AnchorCheck = { success: true; data: Checkpoint } | { success: false; message: string };

/** The auditor's kept checkpoint: signed by the hub and cosigned by every given witness. */
function openAnchor(note: string, hub: NoteVerifier, witnesses: readonly CosignatureVerifier[]): AnchorCheck {
  const opened = openCheckpoint(note, hub);
  if (!opened.success) return { success: false, message: `the kept checkpoint: ${opened.error.message}` };
  for (const w of witnesses) {
    const cosigned = verifyCosignature(note, w);
    if (!cosigned.success) return { success: false, message: `the kept checkpoint, witness ${w.name}: ${cosigned.error.message}` };
  }
  return { success: true, data: opened.data };
}

/**
 * The data directory's log for a proof, read from a copy: an audit never writes the data
 * directory (a tree longer than the log, or a log shorter than checkpoint.latest, is evidence
 * to keep; it is named on stderr).
 */
async function inspectedLog(dataDir: string, io: Io): Promise<TransparentLog> {
  const log = await inspectHubLog(dataDir);
  const size = await log.size();
  if (log.treeSize > size) io.err(`warning: the log in ${dataDir} holds ${size} entries but its tree ${log.treeSize}: entries were removed from the log`);
  const latest = existsSync(logFiles(dataDir).latest) ? parseCheckpointBody(readFileSync(logFiles(dataDir).latest, 'utf8').split('\n\n')[0]! + '\n') : undefined;
  if (latest && latest.treeSize > size) io.err(`warning: the log in ${dataDir} holds ${size} entries but the hub signed ${latest.treeSize} (checkpoint.latest): the log was cut`);
  return log;
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
  usage: 'elfe audit verify [--data DIR | --config HUB.json] [--key HUB.pub] [--ca FILE --crl FILE] [--checkpoint FILE --witness-key KEY …] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      data: { type: 'string' },
      config: { type: 'string' },
      key: { type: 'string' },
      json: { type: 'boolean' },
      checkpoint: { type: 'string', multiple: true },
      'witness-key': { type: 'string', multiple: true },
      ca: { type: 'string' },
      crl: { type: 'string' },
    });
    // With --config, the log is read from the configured store (SQLite in the data directory, or PostgreSQL).
    const config = values.config ? loadConfig(values.config) : undefined;
    const dataDir = config ? config.dataDir : dataDirOf(values.data);
    const storeConfig = config?.log.store ?? { kind: 'sqlite' as const };
    if (storeConfig.kind === 'sqlite') requireLog(dataDir);
    const signatures = signatureAuditFor(dataDir, values.ca, values.crl, io);
    const verifier = verifierFrom(values.key, dataDir, config?.log.origin ?? defaultOrigin, io);
    const witnesses = witnessVerifiers(values['witness-key']);
    if (witnesses.length > 0 && !values.checkpoint) throw new UsageError('--witness-key checks the cosignatures of a --checkpoint FILE');
    const anchors: Checkpoint[] = [];
    for (const file of values.checkpoint ?? []) {
      const anchor = openAnchor(readFileSync(file, 'utf8'), verifier, witnesses);
      if (!anchor.success) {
        io.out(values.json ? JSON.stringify({ ok: false, code: 'bad-anchor', reason: anchor.message }) : `NOT verified (bad-anchor): ${anchor.message}`);
        return exitCode.invalidInput;
      }
      anchors.push(anchor.data);
    }
    const store = await openHubEventStore(dataDir, storeConfig);
    const showProgress = io.isTTY && !values.json;
    try {
      const report = await verifyLog(store, verifier, {
        treeFile: logFiles(dataDir).tree,
        anchors,
        ...(signatures ? { signatures: signatures.audit } : {}),
        ...(showProgress ? { onProgress: (done: number, total: number) => io.err(`\rverifying ${done}/${total} entries`) } : {}),
      });
      const { uncovered: _uncovered, ...summary } = report;
      if (values.json) io.out(JSON.stringify(summary));
      else if (report.ok) {
        const sig = report.signatures ? `; signatures: ${report.signatures.checked} checked, ${report.signatures.erased} erased (not checkable)` : '';
        io.out(`intact: ${report.entries} entries, ${report.checkpoints} checkpoints (${report.uncovered} entries after the last checkpoint)${sig}`);
      }
      else io.out(`NOT intact (${report.code}): first bad position ${report.firstBadPosition}: ${report.reason}`);
      return report.ok ? exitCode.ok : exitCode.failed;
    } finally {
      await store.close();
      await signatures?.keys?.close();
    }
  },
};

/**
 * The signature audit: the CA certificate and CRL from `--ca`/`--crl`, by default the
 * exchange layout's (`DATA/ca/…` beside the hub directory); the case keys from the data
 * directory. Without a CA the kept signatures are not checked, and the audit says so.
 */
function signatureAuditFor(dataDir: string, caFile: string | undefined, crlFile: string | undefined, io: Io): { audit: SignatureAudit; keys: CaseKeyStore | undefined } | undefined {
  const ca = caFile ?? path.join(dataDir, '..', 'ca', 'ca.cert.pem');
  const crl = crlFile ?? path.join(path.dirname(ca), 'crl.pem');
  if (!existsSync(ca) || !existsSync(crl)) {
    if (caFile || crlFile) throw new UsageError(`--ca/--crl: ${!existsSync(ca) ? ca : crl} does not exist`);
    io.err(`note: no CA certificate and CRL at ${path.dirname(ca)}: kept signatures are not checked (pass --ca FILE --crl FILE)`);
    return undefined;
  }
  const keys = existsSync(caseKeyFile(dataDir)) ? new CaseKeyStore(caseKeyFile(dataDir)) : undefined;
  if (!keys) io.err('note: no case key store in the data directory: signatures of sealed entries are not checkable');
  return { audit: new SignatureAudit({ caCertificatePem: readFileSync(ca, 'utf8'), crlPem: readFileSync(crl, 'utf8'), ...(keys ? { keys } : {}) }), keys };
}

const auditProof: Command = {
  path: ['audit', 'proof'],
  summary: 'inclusion proof of an entry (by event or message id) against the latest checkpoint',
  usage: 'elfe audit proof ID [--data DIR] [--format json|tlog-proof] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { data: { type: 'string' }, json: { type: 'boolean' }, format: { type: 'string' } });
    if (values.format !== undefined && values.format !== 'json' && values.format !== 'tlog-proof') throw new UsageError('--format is json or tlog-proof');
    const [id, ...extra] = positionals;
    if (!id || extra.length > 0) throw new UsageError('expects exactly one event or message id');
    const dataDir = dataDirOf(values.data);
    requireLog(dataDir);
    const log = await inspectedLog(dataDir, io);
    try {
      const entry = await log.getByEventId(id);
      if (!entry) {
        io.out(JSON.stringify({ error: { code: 'unknown-entry', message: `no entry with id ${id}` } }));
        return exitCode.invalidInput;
      }
      const proof = await log.inclusionProof(entry.position);
      if (values.format === 'tlog-proof') {
        // C2SP tlog-proof; `extra` carries the entry's canonical bytes, the leaf's preimage.
        const checkpoint = `${proof.checkpoint}${cosignatureLines(dataDir, proof.treeSize)}`;
        io.out(formatTlogProof({ extra: logEntryBytes(proof.entry), index: proof.leafIndex, path: proof.path.map((h) => Buffer.from(h, 'base64')), checkpoint }));
        return exitCode.ok;
      }
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
  usage: 'elfe audit verify-proof PROOF.json|PROOF.tlog-proof --key HUB.pub [--witness-key KEY …] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { key: { type: 'string' }, json: { type: 'boolean' }, 'witness-key': { type: 'string', multiple: true } });
    const [file, ...extra] = positionals;
    if (!file || extra.length > 0) throw new UsageError('expects exactly one PROOF.json');
    if (!values.key) throw new UsageError('--key HUB.pub is required: a proof is only as good as the key it is checked with');
    const text = readFileSync(file, 'utf8');
    if (text.startsWith(`${tlogProofHeader}\n`)) {
      const checkpointStart = text.indexOf('\n\n');
      const origin = checkpointStart < 0 ? defaultOrigin : originOfNote(text.slice(checkpointStart + 2));
      const result = verifyTlogProof(text, verifierFrom(values.key, '', origin, io), witnessVerifiers(values['witness-key']));
      if (result.success) {
        const summary = { ok: true, kind: 'tlog-proof', treeSize: result.data.checkpoint.treeSize, cosignedBy: result.data.cosignedBy };
        io.out(values.json ? JSON.stringify(summary) : `valid tlog-proof (tree size ${summary.treeSize}${summary.cosignedBy.length ? `, cosigned by ${summary.cosignedBy.join(', ')}` : ''})`);
        return exitCode.ok;
      }
      io.out(values.json ? JSON.stringify({ ok: false, error: { code: result.error.code, message: result.error.message } }) : `INVALID (${result.error.code}): ${result.error.message}`);
      return exitCode.failed;
    }
    if ((values['witness-key'] ?? []).length > 0) throw new UsageError('--witness-key applies to tlog-proof files');
    let proof: { kind?: unknown; checkpoint?: unknown; to?: unknown };
    try {
      proof = JSON.parse(text);
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
    const log = await inspectedLog(dataDir, io);
    try {
      const proof = await log.consistencyProof(from, to);
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

const auditCheckpoint: Command = {
  path: ['audit', 'checkpoint'],
  summary: 'print the newest signed checkpoint with its witness cosignatures (a signed note to keep)',
  usage: 'elfe audit checkpoint [--data DIR]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { data: { type: 'string' } });
    const dataDir = dataDirOf(values.data);
    requireLog(dataDir);
    const store = openSqliteEventStore(logFiles(dataDir).events);
    let latest: { treeSize: number; note: string } | undefined;
    try {
      for await (const e of store.readStream(checkpointStream)) {
        const event = parseEvent(e.data);
        if (event.success && event.data.type === 'LogCheckpointSigned') latest = { treeSize: event.data.data.treeSize, note: event.data.data.note };
      }
    } finally {
      await store.close();
    }
    if (!latest) {
      io.err(`elfe audit checkpoint: the log in ${dataDir} has no checkpoint yet`);
      return exitCode.failed;
    }
    io.out(`${latest.note}${cosignatureLines(dataDir, latest.treeSize)}`);
    return exitCode.ok;
  },
};

export const auditCommands: readonly Command[] = [keysShow, auditVerify, auditCheckpoint, auditProof, auditVerifyProof, auditConsistency];
