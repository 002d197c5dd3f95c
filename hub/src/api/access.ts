// Who is calling: the client certificate of the mutual TLS handshake (chained to the exchange
// CA by the TLS layer), checked against the CA's current revocation list, read as an elfe
// party (role and DVDV address). What a role may see is decided here, in one place.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { certificateFacts, normalizeSerial, type Role } from '../../../contracts/index.ts';

export interface Caller {
  readonly role: Role;
  readonly dvdv: string;
  readonly serial: string;
}

export type CallerResult = { success: true; data: Caller } | { success: false; error: { status: 401 | 403 | 503; title: string; detail: string } };

/** The CA's revocation list as the hub holds it: the revoked serials, and why none can be trusted when no good list is in force. */
export type RevocationList = (() => ReadonlySet<string>) & { readonly unusable?: { readonly message: string } | undefined };

export function callerOf(socket: TLSSocket, revoked: RevocationList): CallerResult {
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
  if (!peer || !peer.raw || !socket.authorized) return { success: false, error: { status: 401, title: 'client certificate required', detail: 'call with a certificate of the exchange CA (mutual TLS)' } };
  const facts = certificateFacts(new X509Certificate(peer.raw));
  if (!facts) return { success: false, error: { status: 403, title: 'not a party certificate', detail: 'the certificate names no elfe role and DVDV address' } };
  // Fails closed: without a current revocation list no certificate is trusted.
  if (revoked.unusable) return { success: false, error: { status: 503, title: 'revocation status unknown', detail: `the hub holds no current CRL (${revoked.unusable.message}); no certificate is trusted until the CA publishes one` } };
  if (revoked().has(normalizeSerial(facts.serial))) return { success: false, error: { status: 401, title: 'certificate revoked', detail: `certificate ${facts.serial} is on the CA's revocation list` } };
  return { success: true, data: { role: facts.role, dvdv: facts.dvdv, serial: facts.serial } };
}

/** Operators and auditors: everything but personal data. */
export const seesAll = (c: Caller): boolean => c.role === 'auditor' || c.role === 'hub';

/** The benefit agencies: each sees only its own hand-offs. */
export const isAgency = (c: Caller): boolean => c.role === 'elterngeldstelle' || c.role === 'familienkasse';

/** Whether the caller may see something of this case/hand-off. */
export function maySee(c: Caller, scope: { standesamt?: string | undefined; recipient?: string | undefined }): boolean {
  if (seesAll(c)) return true;
  if (c.role === 'standesamt') return scope.standesamt !== undefined && c.dvdv === `psw:${scope.standesamt}`;
  if (isAgency(c)) return scope.recipient !== undefined && c.dvdv === scope.recipient;
  return false;
}
