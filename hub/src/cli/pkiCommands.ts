import path from 'node:path';
import { RoleSchema } from '../../../contracts/index.ts';
import { storeParty } from '../pki/parties.ts';
import { issueCertificate, PkiError, pkiInit, pkiStatus, revoke } from '../pki/pki.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';

const pkiDirOf = (value: unknown) => path.resolve(typeof value === 'string' ? value : (process.env.ELFE_PKI_DIR ?? path.join('data', 'pki')));

async function guard(io: Io, run: () => number | Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof PkiError) {
      io.out(JSON.stringify({ error: { code: error.code, message: error.message } }));
      return exitCode.invalidInput;
    }
    throw error;
  }
}

const init: Command = {
  path: ['pki', 'init'],
  summary: "create the exchange's CA (key and self-signed certificate)",
  usage: 'elfe pki init [--dir DIR] [--name NAME]',
  run: async (args, io) => {
    const { values } = parseCommandArgs(args, { dir: { type: 'string' }, name: { type: 'string' } });
    return guard(io, () => {
      const ca = pkiInit(pkiDirOf(values.dir), values.name ? { name: values.name } : {});
      io.out(JSON.stringify({ serial: ca.serial, certificate: ca.certFile }));
      return exitCode.ok;
    });
  },
};

const issue: Command = {
  path: ['pki', 'issue'],
  summary: 'issue a key pair and certificate for an agency (role and DVDV address in the certificate)',
  usage: 'elfe pki issue --role ROLE --dvdv ADDRESS --name NAME [--party KEYNAME] [--days N] [--server-name HOST] [--dir DIR]',
  run: async (args, io) => {
    const { values } = parseCommandArgs(args, { role: { type: 'string' }, dvdv: { type: 'string' }, name: { type: 'string' }, days: { type: 'string' }, 'server-name': { type: 'string', multiple: true }, dir: { type: 'string' }, party: { type: 'string' } });
    const role = RoleSchema.safeParse(values.role);
    if (!role.success || !values.dvdv || !values.name) throw new UsageError('--role, --dvdv and --name are required');
    return guard(io, () => {
      const issued = issueCertificate(pkiDirOf(values.dir), {
        role: role.data,
        dvdv: values.dvdv!,
        name: values.name!,
        ...(values.days ? { validDays: Number(values.days) } : {}),
        ...(values['server-name'] ? { serverNames: values['server-name'] } : {}),
      });
      // A party name makes the certificate the one `elfe start` / `elfe submit --key NAME` use.
      if (values.party) storeParty(pkiDirOf(values.dir), values.party, issued);
      io.out(JSON.stringify({ serial: issued.serial, certificate: issued.certFile, key: issued.keyFile, ...(values.party ? { party: values.party } : {}) }));
      return exitCode.ok;
    });
  },
};

const revokeCommand: Command = {
  path: ['pki', 'revoke'],
  summary: 'revoke a certificate; the hub reads the new revocation list without restart',
  usage: 'elfe pki revoke SERIAL [--dir DIR]',
  run: async (args, io) => {
    const { values, positionals } = parseCommandArgs(args, { dir: { type: 'string' } });
    const [serial, ...extra] = positionals;
    if (!serial || extra.length > 0) throw new UsageError('expects exactly one SERIAL');
    return guard(io, () => {
      revoke(pkiDirOf(values.dir), serial);
      io.out(JSON.stringify({ revoked: serial.toUpperCase() }));
      return exitCode.ok;
    });
  },
};

const status: Command = {
  path: ['pki', 'status'],
  summary: 'list issued certificates, flagging those that expire soon',
  usage: 'elfe pki status [--dir DIR] [--warn-days N] [--json]',
  run: async (args, io) => {
    const { values } = parseCommandArgs(args, { dir: { type: 'string' }, 'warn-days': { type: 'string' }, json: { type: 'boolean' } });
    return guard(io, () => {
      const list = pkiStatus(pkiDirOf(values.dir), values['warn-days'] ? { warnDays: Number(values['warn-days']) } : {});
      if (values.json) io.out(JSON.stringify(list));
      else for (const c of list) io.out(`${c.serial}  ${c.notAfter.slice(0, 10)}  ${String(c.daysLeft).padStart(5)} days  ${c.revoked ? 'REVOKED ' : c.expiresSoon ? 'EXPIRES SOON ' : ''}${c.subject}`);
      return list.some((c) => c.expiresSoon && !c.revoked) ? exitCode.failed : exitCode.ok;
    });
  },
};

export const pkiCommands: readonly Command[] = [init, issue, revokeCommand, status];
