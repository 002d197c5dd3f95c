// Certificate-based signing and verification (the PKI of the exchange). The signer attaches
// its X.509 certificate; the verifier accepts a signature only when the certificate chains to
// the exchange's CA, is valid at that time, is not revoked, allows digital signatures, and
// names role and DVDV address (as SAN URIs). node:crypto does the work; node-forge reads the
// key usage bits once per certificate.
import { X509Certificate, sign as cryptoSign, verify as cryptoVerify, constants, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { canonicalBytes } from '../canonicalJson.ts';
import { RoleSchema, type Role } from '../envelope.ts';
import { fail, ok } from '../result.ts';
import { DetachedSignatureSchema, VerificationError, type DetachedSignature, type Signer, type SignerIdentity, type Verifier } from './signing.ts';

const pss = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

export interface CertificateFacts {
  readonly serial: string;
  readonly role: Role;
  readonly dvdv: string;
  readonly name: string;
  readonly digitalSignature: boolean;
  readonly keyEncipherment: boolean;
}

const factsCache = new Map<string, CertificateFacts | undefined>();

/** Role, DVDV address, name and key usage of an elfe certificate (cached by fingerprint). */
export function certificateFacts(cert: X509Certificate): CertificateFacts | undefined {
  const cached = factsCache.get(cert.fingerprint256);
  if (cached || factsCache.has(cert.fingerprint256)) return cached;
  const uris = (cert.subjectAltName ?? '').split(/,\s*/).filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
  const role = RoleSchema.safeParse(uris.find((u) => u.startsWith('urn:elfe:role:'))?.slice('urn:elfe:role:'.length));
  const dvdv = uris.find((u) => u.startsWith('urn:elfe:dvdv:'))?.slice('urn:elfe:dvdv:'.length);
  let facts: CertificateFacts | undefined;
  if (role.success && dvdv) {
    const parsed = forge.pki.certificateFromPem(cert.toString());
    const usage = parsed.getExtension('keyUsage') as { digitalSignature?: boolean; keyEncipherment?: boolean } | null;
    const org = /(?:^|\n)O=([^\n]+)/.exec(cert.subject)?.[1] ?? dvdv;
    facts = { serial: cert.serialNumber.toUpperCase(), role: role.data, dvdv, name: org, digitalSignature: usage?.digitalSignature === true, keyEncipherment: usage?.keyEncipherment === true };
  }
  factsCache.set(cert.fingerprint256, facts);
  return facts;
}

/** A signer over an RSA key and its certificate (RSA-PSS, SHA-256, over RFC 8785 bytes). */
export function certificateSigner(privateKey: KeyObject, certificatePem: string): Signer {
  const cert = new X509Certificate(certificatePem);
  const facts = certificateFacts(cert);
  if (!facts) throw new TypeError('the certificate names no elfe role and DVDV address');
  return {
    identity: { keyId: facts.serial, dvdv: facts.dvdv, role: facts.role, name: facts.name },
    sign: (value): DetachedSignature => ({
      alg: 'PS256',
      keyId: facts.serial,
      value: cryptoSign('sha256', canonicalBytes(value), { key: privateKey, ...pss }).toString('base64'),
      certificate: certificatePem,
    }),
  };
}

export interface CertificateVerifierOptions {
  readonly caCertificatePem: string;
  /** Serial numbers revoked right now (read through a function, so a new list needs no restart). */
  readonly revokedSerials: () => ReadonlySet<string>;
  readonly now?: () => Date;
}

export function certificateVerifier(options: CertificateVerifierOptions): Verifier {
  const ca = new X509Certificate(options.caCertificatePem);
  const parsedCerts = new Map<string, X509Certificate>();
  return {
    verify(value, signature, at) {
      const parsed = DetachedSignatureSchema.safeParse(signature);
      if (!parsed.success || parsed.data.alg !== 'PS256' || !parsed.data.certificate) {
        return fail(new VerificationError('signature-malformed', 'expected a PS256 signature with the signer\'s certificate'));
      }
      let cert = parsedCerts.get(parsed.data.certificate);
      if (!cert) {
        try {
          cert = new X509Certificate(parsed.data.certificate);
        } catch (error) {
          return fail(new VerificationError('certificate-invalid', 'the certificate cannot be read', { cause: error }));
        }
        if (parsedCerts.size > 10_000) parsedCerts.clear();
        parsedCerts.set(parsed.data.certificate, cert);
      }
      if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return fail(new VerificationError('certificate-invalid', 'the certificate was not issued by the exchange CA'));
      const when = (at ?? options.now?.() ?? new Date()).getTime();
      if (when < Date.parse(cert.validFrom) || when > Date.parse(cert.validTo)) return fail(new VerificationError('certificate-expired', `the certificate is valid ${cert.validFrom} to ${cert.validTo}`));
      const facts = certificateFacts(cert);
      if (!facts) return fail(new VerificationError('certificate-invalid', 'the certificate names no elfe role and DVDV address'));
      if (!facts.digitalSignature) return fail(new VerificationError('certificate-invalid', 'the certificate\'s key usage does not allow signing'));
      if (options.revokedSerials().has(facts.serial)) return fail(new VerificationError('certificate-revoked', `certificate ${facts.serial} is revoked`));
      let valid = false;
      try {
        valid = cryptoVerify('sha256', canonicalBytes(value), { key: cert.publicKey, ...pss }, Buffer.from(parsed.data.value, 'base64'));
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
