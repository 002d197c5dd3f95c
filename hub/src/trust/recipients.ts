// To whom the hub may encrypt: the certificate the exchange CA's register names as the holder of
// the recipient's address (the CA's signed statement `issued/holders.json`, published with its
// `issued/` directory), if it is valid now and not on the CRL. Another certificate for the same
// address (one the register does not name) is never used, however new; a revoked or expired
// holder is not either; without a usable certificate the delivery is held back, visibly.
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { CaFiles } from '../../../connectors/kit/caFiles.ts';

export type RecipientKey = { readonly key: KeyObject; readonly serial: string } | { readonly reason: string };

/** Reads the CA's files through their one watcher (`Trust.caFiles`, built with the issued directory). */
export function recipientDirectory(options: { caFiles: Pick<CaFiles, 'current'>; now?: () => Date }): (dvdv: string) => RecipientKey {
  const now = options.now ?? (() => new Date());
  return (dvdv) => {
    const state = options.caFiles.current();
    const at = now().getTime();
    if (state.revocationUnknown !== undefined) return { reason: `no current CRL, so no certificate of ${dvdv} can be checked: ${state.revocationUnknown}` };
    const mine = state.certificates.filter((c) => c.facts?.dvdv === dvdv && (c.facts.role === 'elterngeldstelle' || c.facts.role === 'familienkasse'));
    if (mine.length === 0) return { reason: `no certificate for ${dvdv}` };
    const holders = state.holders;
    if ('error' in holders) return { reason: `${holders.error}: no registered holder of ${dvdv}` };
    const holder = holders.holders[dvdv];
    if (holder === undefined) return { reason: `the CA's register names no holder of ${dvdv}` };
    const best = mine.find((k) => k.serial === holder);
    if (!best) return { reason: `the registered holder of ${dvdv} (${holder}) is not among the issued certificates` };
    if (state.revoked.has(best.serial)) return { reason: `the registered holder of ${dvdv} (${holder}) is revoked` };
    if (at < best.validFrom || at > best.validTo) return { reason: `the registered holder of ${dvdv} (${holder}) is not valid now` };
    return { key: publicKeyOf(best.cert), serial: best.serial };
  };
}

/** One key object per certificate (`X509Certificate.publicKey` makes a new one on every call), so what is prepared for a key is prepared once. */
const publicKeys = new WeakMap<X509Certificate, KeyObject>();
const publicKeyOf = (cert: X509Certificate): KeyObject => {
  let key = publicKeys.get(cert);
  if (!key) publicKeys.set(cert, (key = cert.publicKey));
  return key;
};
