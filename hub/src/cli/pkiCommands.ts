// `elfe pki`: the exchange's CA (init, sign, revoke, crl, status) and, on the party's side,
// `request` (a key that never leaves the party's directory, and a CSR for the CA).
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CrlError, RoleSchema } from '../../../contracts/index.ts';
import { createRequest, CredentialsError } from '../../../connectors/kit/credentials.ts';
import { PkiError, pkiInit, pkiStatus, refreshCrl, revoke, signRequest } from '../pki/pki.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';

const pkiDirOf = (value: unknown) => path.resolve(typeof value === 'string' ? value : (process.env.ELFE_PKI_DIR ?? path.join('data', 'pki')));

const errorJson = (code: string, message: string) => JSON.stringify({ error: { code, message } });

/** Expected failures (bad input, unreadable files) become a JSON error and exit 2; never a stack trace. */
async function guard(io: Io, run: () => number | Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof PkiError || error instanceof CredentialsError || error instanceof CrlError) {
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

const sign: Command = {
  path: ['pki', 'sign'],
  summary: 'issue a certificate for a certificate request (the CA never sees the private key)',
  usage: 'elfe pki sign REQUEST.csr --dir CA_DIR [--days N] [--out FILE]',
  run: async (args, io) => {
    const { values, positionals } = parseCommandArgs(args, { dir: { type: 'string' }, days: { type: 'string' }, out: { type: 'string' } });
    const [csrFile, ...extra] = positionals;
    if (!csrFile || extra.length > 0) throw new UsageError('expects exactly one REQUEST.csr');
    return guard(io, async () => {
      const days = daysOption(values.days);
      const issued = await signRequest(pkiDirOf(values.dir), readFileSync(csrFile, 'utf8'), days ? { days } : {});
      const certFile = path.resolve(values.out ?? path.join(path.dirname(csrFile), 'cert.pem'));
      writeFileSync(certFile, issued.certificatePem);
      io.out(JSON.stringify({ serial: issued.serial, certFile }));
      return exitCode.ok;
    });
  },
};

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
  summary: 'list issued certificates, flagging those that expire soon',
  usage: 'elfe pki status --dir CA_DIR [--warn-days N] [--json]',
  run: async (args, io) => {
    const { values } = parseCommandArgs(args, { dir: { type: 'string' }, 'warn-days': { type: 'string' }, json: { type: 'boolean' } });
    return guard(io, () => {
      const warnDays = daysOption(values['warn-days']);
      const list = pkiStatus(pkiDirOf(values.dir), warnDays !== undefined ? { warnDays } : {});
      if (values.json) io.out(JSON.stringify(list));
      else for (const c of list) io.out(`${c.serial}  ${c.notAfter.slice(0, 10)}  ${String(c.daysLeft).padStart(5)} days  ${c.revoked ? 'REVOKED ' : c.expiresSoon ? 'EXPIRES SOON ' : ''}${c.subject}`);
      return list.some((c) => c.expiresSoon && !c.revoked) ? exitCode.failed : exitCode.ok;
    });
  },
};

export const pkiCommands: readonly Command[] = [init, request, sign, revokeCommand, crl, status];
