// `elfe pki`: the exchange's CA (init, register, sign, revoke, crl, status) and, on the party's side,
// `request` (a key that never leaves the party's directory, and a CSR for the CA).
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { altNames, CrlError, RoleSchema, x509, type Role } from '../../../contracts/index.ts';
import { NodeCertificateError, signNodeRequest } from '../pki/nodeCertificates.ts';
import { createRequest, CredentialsError } from '../../../connectors/kit/credentials.ts';
import { caCertificate, PkiError, pkiInit, pkiStatus, refreshCrl, registerOf, registerParty, reviewRequest, revoke, signRequest, type SigningReview } from '../pki/pki.ts';
import { entryKey, verifyIssuanceLog, type RegisterEntry } from '../pki/register.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';

const pkiDirOf = (value: unknown) => path.resolve(typeof value === 'string' ? value : (process.env.ELFE_PKI_DIR ?? path.join('data', 'pki')));

const errorJson = (code: string, message: string) => JSON.stringify({ error: { code, message } });

/** Expected failures (bad input, unreadable files) become a JSON error and exit 2; never a stack trace. */
async function guard(io: Io, run: () => number | Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof PkiError || error instanceof CredentialsError || error instanceof CrlError || error instanceof NodeCertificateError) {
      io.out(errorJson(error.code, error.message));
      return exitCode.invalidInput;
    }
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST') {
      io.out(errorJson('unreadable', (error as Error).message));
      return exitCode.invalidInput;
    }
    throw error;
  }
}

/** A positive integer option, or a JSON error. */
function daysOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,5}$/.test(value)) throw new PkiError('invalid-input', `--days expects a whole number of days, not ${value}`);
  return Number(value);
}

const init: Command = {
  path: ['pki', 'init'],
  summary: "create the exchange's CA (EC P-256 key, self-signed certificate, empty CRL)",
  usage: 'elfe pki init --dir CA_DIR [--name NAME] [--days N]',
  run: async (args, io) => {
    const { values } = parseCommandArgs(args, { dir: { type: 'string' }, name: { type: 'string' }, days: { type: 'string' } });
    return guard(io, async () => {
      const validDays = daysOption(values.days);
      const ca = await pkiInit(pkiDirOf(values.dir), { ...(values.name ? { name: values.name } : {}), ...(validDays ? { validDays } : {}) });
      io.out(JSON.stringify({ serial: ca.serial, certFile: ca.certFile }));
      return exitCode.ok;
    });
  },
};

const request: Command = {
  path: ['pki', 'request'],
  summary: "create a party's key (kept in --out, mode 0600) and a certificate request for the CA",
  usage: 'elfe pki request (--role ROLE --dvdv ADDRESS | --tls-server) --name NAME --out DIR [--server-name HOST ...]',
  run: async (args, io) => {
    const { values } = parseCommandArgs(args, {
      role: { type: 'string' },
      dvdv: { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string' },
      'server-name': { type: 'string', multiple: true },
      'tls-server': { type: 'boolean' },
    });
    if (!values.name || !values.out) throw new UsageError('--name and --out are required');
    const serverNames = values['server-name'] ?? [];
    if (values['tls-server'] && (values.role || values.dvdv)) throw new UsageError('--tls-server takes no --role or --dvdv: the nats-server identity signs nothing');
    if (!values['tls-server'] && (!values.role || !values.dvdv)) throw new UsageError('--role and --dvdv are required (or --tls-server)');
    return guard(io, async () => {
      const out = path.resolve(values.out!);
      let created;
      if (values['tls-server']) created = await createRequest(out, { tlsServer: true, name: values.name!, serverNames });
      else {
        const role = RoleSchema.safeParse(values.role);
        if (!role.success) throw new CredentialsError('invalid-input', `unknown role ${values.role}; one of ${RoleSchema.options.join(', ')}`);
        created = await createRequest(out, { role: role.data, dvdv: values.dvdv!, name: values.name!, serverNames });
      }
      io.out(JSON.stringify({ requestFile: created.requestFile, keyFile: created.keyFile }));
      return exitCode.ok;
    });
  },
};

/** The lines an operator reads before a certificate is signed. */
function previewLines(r: SigningReview): string[] {
  return [
    `about to sign${r.hubIdentity ? ' THE HUB\'S OWN IDENTITY' : ''}:`,
    `  subject      ${r.subject}`,
    ...(r.kind === 'party' ? [`  role         ${r.role}`, `  address      ${r.dvdv}`] : ['  kind         TLS server (no role, no address)']),
    `  name         ${r.name}${r.requestedName !== undefined ? ` (the request said "${r.requestedName}"; the registered name is used)` : ''}`,
    `  server names ${r.serverNames.length > 0 ? r.serverNames.join(', ') : '-'}`,
    `  valid        ${r.notBefore} to ${r.notAfter}`,
    `  key          ${r.keyFingerprint}`,
    ...(r.replaces !== undefined ? [`  replaces     ${r.replaces} (the new key takes over the address; revoke the old one with elfe pki revoke when done)`] : []),
  ];
}

/** Asks on the terminal; true only for an explicit yes. */
async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^(y|yes|j|ja)$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

const sign: Command = {
  path: ['pki', 'sign'],
  summary: 'issue a certificate for a registered party\'s request: shows what it signs and asks (or --yes); the CA never sees the private key',
  usage: 'elfe pki sign REQUEST.csr --dir CA_DIR [--days N] [--out FILE] [--replaces SERIAL] [--allow-hub-identity] [--nats-node] [--yes] [--json]',
  run: async (args, io) => {
    const { values, positionals } = parseCommandArgs(args, {
      dir: { type: 'string' },
      days: { type: 'string' },
      out: { type: 'string' },
      replaces: { type: 'string' },
      'allow-hub-identity': { type: 'boolean' },
      'nats-node': { type: 'boolean' },
      yes: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const [csrFile, ...extra] = positionals;
    if (!csrFile || extra.length > 0) throw new UsageError('expects exactly one REQUEST.csr');
    return guard(io, async () => {
      const days = daysOption(values.days);
      const dir = pkiDirOf(values.dir);
      const csrPem = readFileSync(csrFile, 'utf8');
      if (values['nats-node']) return signNode(io, dir, csrFile, csrPem, { ...(days ? { days } : {}), out: values.out, yes: values.yes === true, json: values.json === true });
      const options = { ...(days ? { days } : {}), ...(values.replaces ? { replaces: values.replaces } : {}), ...(values['allow-hub-identity'] ? { allowHubIdentity: true } : {}) };
      const preview = await reviewRequest(dir, csrPem, options);
      if (preview.hubIdentity) io.err(`WARNING: --allow-hub-identity: this certificate makes its holder the hub (${preview.dvdv}), with the hub's NATS rights and signature`);
      if (!values.json) for (const line of previewLines(preview)) io.out(line);
      if (!values.yes) {
        const interactive = io.isTTY && Boolean(process.stdin.isTTY);
        if (!interactive || !(await confirm('sign this certificate? [y/N] '))) {
          if (values.json) io.out(JSON.stringify({ ...preview, error: { code: 'not-confirmed', message: interactive ? 'not signed' : 'not signed: confirm on a terminal or pass --yes' } }));
          else io.out(errorJson('not-confirmed', interactive ? 'not signed' : 'not signed: confirm on a terminal or pass --yes'));
          return exitCode.invalidInput;
        }
      }
      const issued = await signRequest(dir, csrPem, options);
      const certFile = path.resolve(values.out ?? path.join(path.dirname(csrFile), 'cert.pem'));
      writeFileSync(certFile, issued.certificatePem);
      io.out(JSON.stringify(values.json ? { ...issued.review, serial: issued.serial, certFile } : { serial: issued.serial, certFile }));
      return exitCode.ok;
    });
  },
};

/**
 * A NATS node's request (`elfe init nats-node`): a node certificate, the only kind that may
 * form cluster routes (no role, no address; see nodeCertificates.ts). Shown and confirmed like
 * every signature.
 */
async function signNode(io: Io, dir: string, csrFile: string, csrPem: string, options: { days?: number; out: string | undefined; yes: boolean; json: boolean }): Promise<number> {
  let names: string[] = [];
  let subject = '';
  try {
    const csr = new x509.Pkcs10CertificateRequest(csrPem);
    subject = csr.subject;
    const sans = altNames(csr.extensions);
    names = [...sans.dns, ...sans.ips];
  } catch {
    throw new NodeCertificateError('bad-request', 'the certificate request cannot be read');
  }
  if (!options.json) io.out(['about to sign a NATS NODE certificate (it may form cluster routes):', `  subject      ${subject}`, `  route names  ${names.join(', ') || '-'}`].join('\n'));
  if (!options.yes) {
    const interactive = io.isTTY && Boolean(process.stdin.isTTY);
    if (!interactive || !(await confirm('sign this node certificate? [y/N] '))) {
      io.out(errorJson('not-confirmed', interactive ? 'not signed' : 'not signed: confirm on a terminal or pass --yes'));
      return exitCode.invalidInput;
    }
  }
  const issued = await signNodeRequest(dir, csrPem, options.days ? { days: options.days } : {});
  const certFile = path.resolve(options.out ?? path.join(path.dirname(csrFile), 'cert.pem'));
  writeFileSync(certFile, issued.certificatePem);
  io.out(JSON.stringify({ serial: issued.serial, certFile, natsNode: true }));
  return exitCode.ok;
}

const register: Command = {
  path: ['pki', 'register'],
  summary: "add a party (role, DVDV address, name) or a TLS server (name, server names) to the CA's register; without --name, show the register",
  usage: 'elfe pki register --dir CA_DIR [(--role ROLE --dvdv ADDRESS | --tls-server) --name NAME [--server-name HOST ...] [--allow-hub-identity]] [--json]',
  run: async (args, io) => {
    const { values } = parseCommandArgs(args, {
      dir: { type: 'string' },
      role: { type: 'string' },
      dvdv: { type: 'string' },
      name: { type: 'string' },
      'server-name': { type: 'string', multiple: true },
      'tls-server': { type: 'boolean' },
      'allow-hub-identity': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const dir = pkiDirOf(values.dir);
    if (!values.name && !values.role && !values.dvdv && !values['tls-server']) {
      return guard(io, () => {
        const entries = registerOf(dir);
        if (values.json) io.out(JSON.stringify(entries));
        else for (const line of registerLines(entries)) io.out(line);
        return exitCode.ok;
      });
    }
    if (!values.name) throw new UsageError('--name is required');
    if (values['tls-server'] && (values.role || values.dvdv)) throw new UsageError('--tls-server takes no --role or --dvdv');
    if (!values['tls-server'] && (!values.role || !values.dvdv)) throw new UsageError('--role and --dvdv are required (or --tls-server)');
    return guard(io, async () => {
      const input = values['tls-server']
        ? { kind: 'tls-server' as const, name: values.name!, serverNames: values['server-name'] ?? [] }
        : { kind: 'party' as const, role: values.role as Role, dvdv: values.dvdv!, name: values.name!, serverNames: values['server-name'] ?? [] };
      if (values['allow-hub-identity']) io.err("WARNING: --allow-hub-identity: registering the hub's own identity");
      const { entry, added } = await registerParty(dir, input, values['allow-hub-identity'] ? { allowHubIdentity: true } : {});
      io.out(JSON.stringify({ registered: entryKey(entry), added, entry }));
      return exitCode.ok;
    });
  },
};

/** The register as the operator reads it: one line per party, with the certificate holding it. */
function registerLines(entries: readonly RegisterEntry[]): string[] {
  if (entries.length === 0) return ['register: empty (elfe pki register --role ROLE --dvdv ADDRESS --name NAME)'];
  return [
    'register:',
    ...entries.map((e) => {
      const who = e.kind === 'party' ? `${e.dvdv!.padEnd(16)} ${e.role!.padEnd(16)}` : `${'(tls server)'.padEnd(16)} ${''.padEnd(16)}`;
      const names = e.serverNames.length > 0 ? `  [${e.serverNames.join(', ')}]` : '';
      const before = (e.previousHolders ?? []).length > 0 ? `  (before: ${(e.previousHolders ?? []).join(', ')})` : '';
      return `  ${who} ${e.name}${names}  holder ${e.holder ?? '-'}${before}`;
    }),
  ];
}

const reasons = ['unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn', 'aACompromise'] as const;

const revokeCommand: Command = {
  path: ['pki', 'revoke'],
  summary: 'revoke a certificate: a new CRL; the hub and the connectors read it without restart',
  usage: `elfe pki revoke SERIAL --dir CA_DIR [--reason ${reasons.join('|')}]`,
  run: async (args, io) => {
    const { values, positionals } = parseCommandArgs(args, { dir: { type: 'string' }, reason: { type: 'string' } });
    const [serial, ...extra] = positionals;
    if (!serial || extra.length > 0) throw new UsageError('expects exactly one SERIAL');
    return guard(io, async () => {
      const reason = reasons.find((r) => r === values.reason);
      if (values.reason !== undefined && !reason) throw new PkiError('invalid-input', `unknown reason ${values.reason}`);
      await revoke(pkiDirOf(values.dir), serial, reason ? { reason } : {});
      io.out(JSON.stringify({ revoked: serial.toUpperCase() }));
      return exitCode.ok;
    });
  },
};

const crl: Command = {
  path: ['pki', 'crl'],
  summary: 're-sign the CRL with the same entries (run before its next update passes)',
  usage: 'elfe pki crl --dir CA_DIR [--days N]',
  run: async (args, io) => {
    const { values } = parseCommandArgs(args, { dir: { type: 'string' }, days: { type: 'string' } });
    return guard(io, async () => {
      const crlDays = daysOption(values.days);
      const list = await refreshCrl(pkiDirOf(values.dir), crlDays ? { crlDays } : {});
      io.out(JSON.stringify({ crlNumber: list.crlNumber, revoked: list.serials.size, nextUpdate: list.nextUpdate.toISOString() }));
      return exitCode.ok;
    });
  },
};

const status: Command = {
  path: ['pki', 'status'],
  summary: "show the register (who holds each address), the issued certificates (flagging those that expire soon) and the check of the CA's issuance log",
  usage: 'elfe pki status --dir CA_DIR [--warn-days N] [--json]',
  run: async (args, io) => {
    const { values } = parseCommandArgs(args, { dir: { type: 'string' }, 'warn-days': { type: 'string' }, json: { type: 'boolean' } });
    return guard(io, () => {
      const warnDays = daysOption(values['warn-days']);
      const dir = pkiDirOf(values.dir);
      const list = pkiStatus(dir, warnDays !== undefined ? { warnDays } : {});
      const entries = registerOf(dir);
      const holds = new Map(entries.filter((e) => e.holder).map((e) => [e.holder!, entryKey(e)]));
      const certificates = list.map((c) => ({ ...c, ...(holds.has(c.serial) ? { holds: holds.get(c.serial) } : {}) }));
      const log = verifyIssuanceLog(dir, caCertificate(dir));
      const issuanceLog = { entries: log.entries.length, valid: log.valid, ...(log.problem ? { problem: log.problem } : {}) };
      if (values.json) io.out(JSON.stringify({ register: entries, certificates, issuanceLog }));
      else {
        for (const line of registerLines(entries)) io.out(line);
        io.out('certificates:');
        for (const c of certificates) {
          io.out(`  ${c.serial}  ${c.notAfter.slice(0, 10)}  ${String(c.daysLeft).padStart(5)} days  ${c.revoked ? 'REVOKED ' : c.expiresSoon ? 'EXPIRES SOON ' : ''}${c.holds ? `HOLDS ${c.holds} ` : ''}${c.subject}`);
        }
        io.out(`issuance log: ${log.entries.length} entries, ${log.valid ? 'chain and CA signatures verified' : `BROKEN: ${log.problem}`}`);
      }
      if (!log.valid) return exitCode.failed;
      return list.some((c) => c.expiresSoon && !c.revoked) ? exitCode.failed : exitCode.ok;
    });
  },
};

export const pkiCommands: readonly Command[] = [init, request, register, sign, revokeCommand, crl, status];
