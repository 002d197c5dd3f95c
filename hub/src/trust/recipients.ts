// To whom the hub may encrypt: the recipient's newest certificate that the exchange CA issued
// (its published `issued/` directory), that is valid now and not on the CRL. A revoked or
// expired key is never used; without a usable certificate the delivery is held back, visibly.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { certificateFacts } from '../../../contracts/index.ts';

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
  return (dvdv) => {
    refresh();
    const at = now().getTime();
    const revoked = options.revoked();
    const unknown = options.revocationUnknown?.();
    if (unknown !== undefined) return { reason: `no current CRL, so no certificate of ${dvdv} can be checked: ${unknown}` };
    const mine = [...byFile.values()].filter((k): k is Known => k !== undefined && k.dvdv === dvdv && (k.role === 'elterngeldstelle' || k.role === 'familienkasse'));
    if (mine.length === 0) return { reason: `no certificate for ${dvdv}` };
    const usable = mine
      .filter((k) => !revoked.has(k.serial) && at >= Date.parse(k.cert.validFrom) && at <= Date.parse(k.cert.validTo))
      .sort((a, b) => Date.parse(b.cert.validFrom) - Date.parse(a.cert.validFrom));
    const best = usable[0];
    if (!best) {
      const anyRevoked = mine.some((k) => revoked.has(k.serial));
      return { reason: anyRevoked ? `every certificate of ${dvdv} is revoked or expired` : `the certificate of ${dvdv} expired` };
    }
    return { key: best.cert.publicKey, serial: best.serial };
  };
}
