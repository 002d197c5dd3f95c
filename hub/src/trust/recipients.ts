// To whom the hub may encrypt: the certificate the exchange CA's register names as the holder of
// the recipient's address (the CA's signed statement `issued/holders.json`, published with its
// `issued/` directory), if it is valid now and not on the CRL. Another certificate for the same
// address (one the register does not name) is never used, however new; a revoked or expired
// holder is not either; without a usable certificate the delivery is held back, visibly.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { certificateFacts } from '../../../contracts/index.ts';
import { holdersFileOf, readHolders, type HoldersStatement } from '../pki/register.ts';

export type RecipientKey = { readonly key: KeyObject; readonly serial: string } | { readonly reason: string };

interface Known {
  readonly cert: X509Certificate;
  readonly serial: string;
  readonly dvdv: string;
  readonly role: string;
}

export function recipientDirectory(options: {
  issuedDir: string;
  caCertificatePem: string;
  revoked: () => ReadonlySet<string>;
  /** Why no good CRL is in force (then no key is used: none can be checked). */
  revocationUnknown?: () => string | undefined;
  now?: () => Date;
}): (dvdv: string) => RecipientKey {
  const ca = new X509Certificate(options.caCertificatePem);
  const now = options.now ?? (() => new Date());
  const byFile = new Map<string, Known | undefined>();
  let stamp = -1;
  const refresh = () => {
    if (!existsSync(options.issuedDir)) return;
    const mtime = statSync(options.issuedDir).mtimeMs;
    if (mtime === stamp) return;
    stamp = mtime;
    for (const name of readdirSync(options.issuedDir)) {
      if (!name.endsWith('.cert.pem') || byFile.has(name)) continue;
      let known: Known | undefined;
      try {
        const cert = new X509Certificate(readFileSync(path.join(options.issuedDir, name)));
        const facts = certificateFacts(cert);
        if (facts && cert.checkIssued(ca) && cert.verify(ca.publicKey)) known = { cert, serial: facts.serial, dvdv: facts.dvdv, role: facts.role };
      } catch {
        known = undefined; // not a certificate of ours: never a recipient
      }
      byFile.set(name, known);
    }
  };
  // The statement of holders, re-read when the file changes; never one older than the last seen.
  let holders: HoldersStatement | { error: string } = { error: 'not read yet' };
  let holdersStamp = '';
  const refreshHolders = () => {
    const file = holdersFileOf(options.issuedDir);
    const s = existsSync(file) ? statSync(file) : undefined;
    const next = s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'none';
    if (next === holdersStamp) return;
    holdersStamp = next;
    const read = readHolders(options.issuedDir, ca);
    if ('error' in read && 'sequence' in holders) return; // keep the last good statement
    if ('sequence' in read && 'sequence' in holders && read.sequence < holders.sequence) return; // an older statement copied over a newer one
    holders = read;
  };
  return (dvdv) => {
    refresh();
    refreshHolders();
    const at = now().getTime();
    const revoked = options.revoked();
    const unknown = options.revocationUnknown?.();
    if (unknown !== undefined) return { reason: `no current CRL, so no certificate of ${dvdv} can be checked: ${unknown}` };
    const mine = [...byFile.values()].filter((k): k is Known => k !== undefined && k.dvdv === dvdv && (k.role === 'elterngeldstelle' || k.role === 'familienkasse'));
    if (mine.length === 0) return { reason: `no certificate for ${dvdv}` };
    if ('error' in holders) return { reason: `${holders.error}: no registered holder of ${dvdv}` };
    const holder = holders.holders[dvdv];
    if (holder === undefined) return { reason: `the CA's register names no holder of ${dvdv}` };
    const best = mine.find((k) => k.serial === holder);
    if (!best) return { reason: `the registered holder of ${dvdv} (${holder}) is not among the issued certificates` };
    if (revoked.has(best.serial)) return { reason: `the registered holder of ${dvdv} (${holder}) is revoked` };
    if (at < Date.parse(best.cert.validFrom) || at > Date.parse(best.cert.validTo)) return { reason: `the registered holder of ${dvdv} (${holder}) is not valid now` };
    return { key: best.cert.publicKey, serial: best.serial };
  };
}
