// Certificate-based signing and verification (the PKI of the exchange). The signer attaches
// its X.509 certificate; the verifier accepts a signature only when the certificate chains to
// the exchange's CA, is valid at that time, names an elfe role and DVDV address (SAN URIs),
// allows digital signatures, is not revoked, and the ES256 signature matches. node:crypto
// checks signatures; @peculiar/x509 reads the extensions, once per certificate.
import { X509Certificate, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { canonicalBytes } from '../canonicalJson.ts';
import { RoleSchema, type Role } from '../envelope.ts';
import { DvdvAddressSchema } from '../identifiers/registry.ts';
import { fail, ok } from '../result.ts';
import { isP256 } from './ecdhEs.ts';
import { DetachedSignatureSchema, VerificationError, type DetachedSignature, type Signer, type SignerIdentity, type Verifier } from './signing.ts';
import { altNames, dvdvUriPrefix, normalizeSerial, roleUriPrefix, subjectField, x509 } from './x509.ts';

const es256 = { dsaEncoding: 'ieee-p1363' } as const;

export interface CertificateFacts {
  readonly serial: string;
  readonly role: Role;
  readonly dvdv: string;
  readonly name: string;
  readonly digitalSignature: boolean;
  /** Agencies' certificates allow key agreement (ECDH-ES for confidential payloads). */
  readonly keyAgreement: boolean;
  /** The first e-mail SAN: the certificate's NATS user (nats-server's verify_and_map). */
  readonly natsUser: string | undefined;
}

/** A small LRU map: attacker-chosen certificates must not grow memory without bound. */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly limit: number) {}
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value as K);
  }
  get size(): number {
    return this.map.size;
  }
}

export const certificateCacheLimit = 1000;
const factsCache = new BoundedCache<string, CertificateFacts | null>(certificateCacheLimit);

function readFacts(cert: X509Certificate): CertificateFacts | null {
  let parsed: x509.X509Certificate;
  try {
    parsed = new x509.X509Certificate(cert.raw);
  } catch {
    return null;
  }
  const names = altNames(parsed.extensions);
  const roles = names.uris.filter((u) => u.startsWith(roleUriPrefix));
  const dvdvs = names.uris.filter((u) => u.startsWith(dvdvUriPrefix));
  // Exactly one of each: a certificate that names two roles speaks for neither.
  if (roles.length !== 1 || dvdvs.length !== 1) return null;
  const role = RoleSchema.safeParse(roles[0]!.slice(roleUriPrefix.length));
  const dvdv = DvdvAddressSchema.safeParse(dvdvs[0]!.slice(dvdvUriPrefix.length));
  if (!role.success || !dvdv.success) return null;
  const usage = parsed.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
  return {
    serial: normalizeSerial(cert.serialNumber),
    role: role.data,
    dvdv: dvdv.data,
    name: subjectField(parsed.subjectName, 'O') ?? dvdv.data,
    digitalSignature: (usage & x509.KeyUsageFlags.digitalSignature) !== 0,
    keyAgreement: (usage & x509.KeyUsageFlags.keyAgreement) !== 0,
    natsUser: names.emails[0],
  };
}

/** Role, DVDV address, name and key usage of an elfe certificate (cached by fingerprint); none for a TLS-server-only one. */
export function certificateFacts(cert: X509Certificate): CertificateFacts | undefined {
  const cached = factsCache.get(cert.fingerprint256);
  if (cached !== undefined) return cached ?? undefined;
  const facts = readFacts(cert);
  factsCache.set(cert.fingerprint256, facts);
  return facts ?? undefined;
}

/** A signer over an EC P-256 key and its certificate (ES256 over RFC 8785 bytes, IEEE P1363 signature). */
export function certificateSigner(privateKey: KeyObject, certificatePem: string): Signer {
  const cert = new X509Certificate(certificatePem);
  const facts = certificateFacts(cert);
  if (!facts) throw new TypeError('the certificate names no elfe role and DVDV address');
  if (!isP256(privateKey)) throw new TypeError('expected an EC P-256 private key');
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(privateKey)).equals(spki(cert.publicKey))) throw new TypeError('the private key does not belong to the certificate');
  return {
    identity: { keyId: facts.serial, dvdv: facts.dvdv, role: facts.role, name: facts.name },
    sign: (value): DetachedSignature => ({
      alg: 'ES256',
      keyId: facts.serial,
      value: cryptoSign('sha256', canonicalBytes(value), { key: privateKey, ...es256 }).toString('base64'),
      certificate: certificatePem,
    }),
  };
}

export interface CertificateVerifierOptions {
  readonly caCertificatePem: string;
  /** Serial numbers revoked right now (read through a function, so a new list needs no restart). */
  readonly revokedSerials: () => ReadonlySet<string>;
  /**
   * When each revoked serial was revoked, from the CRL. With it, a signature judged as of a
   * time before the revocation (a receipt received before it) still counts; without it, a
   * revoked certificate counts for nothing.
   */
  readonly revokedSince?: (serial: string) => Date | undefined;
  /**
   * Why no good revocation list is in force (undefined while one is): then no certificate can
   * be checked, and none is trusted (fail closed). Asked right after `revokedSerials`, in the
   * same check: it may answer from that look.
   */
  readonly revocationUnknown?: () => string | undefined;
  readonly now?: () => Date;
}

/**
 * What a certificate says that does not change, read once per certificate: its issuer's
 * signature, its key (`X509Certificate.publicKey` builds a new key object on every call), its
 * validity and its facts. Revocation and the time are checked on every signature.
 */
interface ParsedCertificate {
  /** Issued by the CA, signature checked once. */
  readonly issuedByCa: boolean;
  readonly publicKey: KeyObject;
  readonly p256: boolean;
  readonly validFrom: string;
  readonly validTo: string;
  readonly validFromMs: number;
  readonly validToMs: number;
  readonly facts: CertificateFacts | undefined;
}

function parsedCertificate(cert: X509Certificate, ca: X509Certificate): ParsedCertificate {
  const publicKey = cert.publicKey;
  return {
    issuedByCa: cert.checkIssued(ca) && cert.verify(ca.publicKey),
    publicKey,
    p256: isP256(publicKey),
    validFrom: cert.validFrom,
    validTo: cert.validTo,
    validFromMs: Date.parse(cert.validFrom),
    validToMs: Date.parse(cert.validTo),
    facts: certificateFacts(cert),
  };
}

export function certificateVerifier(options: CertificateVerifierOptions): Verifier {
  const ca = new X509Certificate(options.caCertificatePem);
  const parsedCerts = new BoundedCache<string, ParsedCertificate>(certificateCacheLimit);
  return {
    verify(value, signature, at) {
      const parsed = DetachedSignatureSchema.safeParse(signature);
      if (!parsed.success || parsed.data.alg !== 'ES256' || !parsed.data.certificate) {
        return fail(new VerificationError('signature-malformed', "expected an ES256 signature with the signer's certificate"));
      }
      let entry = parsedCerts.get(parsed.data.certificate);
      if (!entry) {
        let cert: X509Certificate;
        try {
          cert = new X509Certificate(parsed.data.certificate);
        } catch (error) {
          return fail(new VerificationError('certificate-invalid', 'the certificate cannot be read', { cause: error }));
        }
        entry = parsedCertificate(cert, ca);
        parsedCerts.set(parsed.data.certificate, entry);
      }
      if (!entry.issuedByCa) return fail(new VerificationError('certificate-invalid', 'the certificate was not issued by the exchange CA'));
      if (!entry.p256) return fail(new VerificationError('certificate-invalid', 'the certificate key is not EC P-256'));
      const when = (at ?? options.now?.() ?? new Date()).getTime();
      if (when < entry.validFromMs || when > entry.validToMs) return fail(new VerificationError('certificate-expired', `the certificate is valid ${entry.validFrom} to ${entry.validTo}`));
      const facts = entry.facts;
      if (!facts) return fail(new VerificationError('certificate-invalid', 'the certificate names no elfe role and DVDV address'));
      if (!facts.digitalSignature) return fail(new VerificationError('certificate-invalid', "the certificate's key usage does not allow signing"));
      // One look at the revocation list for both questions.
      const revoked = options.revokedSerials();
      const unknown = options.revocationUnknown?.();
      if (unknown !== undefined) return fail(new VerificationError('revocation-unknown', `no current revocation list, so certificate ${facts.serial} cannot be checked: ${unknown}`));
      if (revoked.has(facts.serial)) {
        const since = options.revokedSince?.(facts.serial);
        if (!since || when >= since.getTime()) return fail(new VerificationError('certificate-revoked', `certificate ${facts.serial} is revoked`));
      }
      let valid = false;
      try {
        valid = cryptoVerify('sha256', canonicalBytes(value), { key: entry.publicKey, ...es256 }, Buffer.from(parsed.data.value, 'base64'));
      } catch (error) {
        return fail(new VerificationError('signature-invalid', 'signature could not be checked', { cause: error }));
      }
      const identity: SignerIdentity = { keyId: facts.serial, dvdv: facts.dvdv, role: facts.role, name: facts.name };
      return valid ? ok(identity) : fail(new VerificationError('signature-invalid', 'signature does not match'));
    },
  };
}

/** Certificate signatures go to the certificate verifier, plain ones to the key-set verifier. */
export function eitherVerifier(certificates: Verifier, keys: Verifier): Verifier {
  return {
    verify: (value, signature, at) => ((signature as { certificate?: unknown } | null)?.certificate ? certificates : keys).verify(value, signature, at),
  };
}
