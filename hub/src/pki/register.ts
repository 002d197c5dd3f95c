// The CA operator's books: the register of parties (who may be whom, and which certificate holds
// each address), the CA's signed issuance log (every registration, issuance and revocation, one
// JSON line each, hash-chained and signed with the CA key), and the signed statement of holders
// the CA publishes beside its issued certificates (`issued/holders.json`), from which the hub
// learns to whom it may encrypt.
//
//   CA_DIR/register.json        the register (the operator's working copy)
//   CA_DIR/issuance.log         the signed issuance log
//   CA_DIR/issued/holders.json  address → serial of the registered holder, signed by the CA
import { X509Certificate } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalBytes, sha256Hex, type Role } from '../../../contracts/index.ts';
import { holdersFileOf, verifyCaSignature, type HoldersStatement } from '../../../connectors/kit/caFiles.ts';

// The statement of holders is read where every party reads the CA's files.
export { holdersFileOf, readHolders, type HoldersStatement } from '../../../connectors/kit/caFiles.ts';

export interface RegisterEntry {
  readonly kind: 'party' | 'tls-server';
  /** A party's role and DVDV address; a TLS server has neither. */
  readonly role?: Role;
  readonly dvdv?: string;
  /** The display name the CA writes into the certificate (O=). */
  readonly name: string;
  /** DNS names and IP addresses its certificates may carry (server identities only). */
  readonly serverNames: readonly string[];
  /** Serial of the certificate that holds the address now (none before the first issuance). */
  readonly holder?: string;
  /** Serials that held it before, oldest first. */
  readonly previousHolders?: readonly string[];
  readonly registeredAt: string;
}

export interface Register {
  readonly version: 1;
  readonly entries: readonly RegisterEntry[];
}

/** The register's key of an entry: a party by its address, a TLS server by its name. */
export const entryKey = (e: { readonly kind: RegisterEntry['kind']; readonly dvdv?: string | undefined; readonly name: string }): string => (e.kind === 'party' ? e.dvdv! : `tls-server:${e.name}`);

export const registerFileOf = (dir: string): string => path.join(dir, 'register.json');
export const issuanceLogOf = (dir: string): string => path.join(dir, 'issuance.log');

function writeAtomically(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

export function readRegister(dir: string): Register {
  const file = registerFileOf(dir);
  if (!existsSync(file)) return { version: 1, entries: [] };
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Register;
  if (parsed.version !== 1 || !Array.isArray(parsed.entries)) throw new Error(`${file}: not a register of version 1`);
  return parsed;
}

export function writeRegister(dir: string, register: Register): void {
  const entries = [...register.entries].sort((a, b) => entryKey(a).localeCompare(entryKey(b)));
  writeAtomically(registerFileOf(dir), `${JSON.stringify({ version: 1, entries }, null, 2)}\n`);
}

/** Signs bytes with the CA key: ES256, IEEE P1363 (r‖s), base64. */
export type CaSign = (bytes: Uint8Array) => Promise<string>;

export type LogAction = 'init' | 'register' | 'issue' | 'adopt' | 'revoke';

export interface LogEntry {
  readonly seq: number;
  readonly at: string;
  readonly action: LogAction;
  /** SHA-256 (hex) of the previous line; 64 zeros for the first. */
  readonly prev: string;
  readonly [field: string]: unknown;
}

const genesis = '0'.repeat(64);

function lastLine(file: string): { seq: number; hash: string } {
  if (!existsSync(file)) return { seq: 0, hash: genesis };
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  const last = lines.at(-1);
  if (!last) return { seq: 0, hash: genesis };
  return { seq: (JSON.parse(last) as LogEntry).seq, hash: sha256Hex(last) };
}

/** Appends one signed, chained line to the CA's issuance log; returns its sequence number. */
export async function appendIssuanceLog(dir: string, sign: CaSign, action: LogAction, fields: Record<string, unknown>, at = new Date()): Promise<number> {
  const file = issuanceLogOf(dir);
  const previous = lastLine(file);
  const entry = { ...fields, seq: previous.seq + 1, at: at.toISOString(), action, prev: previous.hash };
  const sig = await sign(canonicalBytes(entry));
  appendFileSync(file, `${JSON.stringify({ ...entry, sig })}\n`, { mode: 0o644 });
  return entry.seq;
}


/** Reads the issuance log and checks every line's chain link and CA signature. */
export function verifyIssuanceLog(dir: string, caCertificatePem: string): { entries: LogEntry[]; valid: boolean; problem?: string } {
  const file = issuanceLogOf(dir);
  if (!existsSync(file)) return { entries: [], valid: true };
  const key = new X509Certificate(caCertificatePem).publicKey;
  const entries: LogEntry[] = [];
  let prev = genesis;
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  for (const [i, line] of lines.entries()) {
    let parsed: LogEntry & { sig?: unknown };
    try {
      parsed = JSON.parse(line) as LogEntry & { sig?: unknown };
    } catch {
      return { entries, valid: false, problem: `line ${i + 1} is not JSON` };
    }
    const { sig, ...entry } = parsed;
    if (entry.seq !== i + 1) return { entries, valid: false, problem: `line ${i + 1} has sequence ${String(entry.seq)}` };
    if (entry.prev !== prev) return { entries, valid: false, problem: `line ${i + 1} does not follow line ${i}` };
    if (typeof sig !== 'string' || !verifyCaSignature(key, entry, sig)) return { entries, valid: false, problem: `line ${i + 1} is not signed by the CA` };
    entries.push(entry);
    prev = sha256Hex(line);
  }
  return { entries, valid: true };
}


/** Publishes who holds each address, signed by the CA, beside the issued certificates. */
export async function writeHolders(issuedDir: string, register: Register, sign: CaSign, sequence: number, at = new Date()): Promise<void> {
  const holders: Record<string, string> = {};
  for (const e of register.entries) if (e.kind === 'party' && e.dvdv && e.holder) holders[e.dvdv] = e.holder;
  const statement: HoldersStatement = { type: 'elfe-holders/1', sequence, issuedAt: at.toISOString(), holders };
  writeAtomically(holdersFileOf(issuedDir), `${JSON.stringify({ statement, signature: await sign(canonicalBytes(statement)) }, null, 2)}\n`);
}
