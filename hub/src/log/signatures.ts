// Signatures kept: every submission and receipt is logged with the signature over its exact
// signed bytes (the RFC 8785 canonical bytes of the kept payload), and each signer
// certificate once, as a `CertificateSeen` entry in the `certificates` stream, referred to by
// its SHA-256 fingerprint. An auditor re-checks them against the CA and the CRL.
import { createHash, X509Certificate } from 'node:crypto';
import { BoundedCache, certificateCacheLimit, certificateFacts, hubDerivedUuid, type CertificateSeen, type DetachedSignature } from '../../../contracts/index.ts';
import { DuplicateEventIdError, type EventStore, type JsonValue } from './eventStore.ts';
import { hubProducer, toRecord } from './records.ts';

export const certificatesStream = 'certificates';

/** A signature as the log keeps it: the certificate by fingerprint. */
export interface KeptSignature {
  readonly alg: DetachedSignature['alg'];
  readonly keyId: string;
  readonly value: string;
  /** SHA-256 of the certificate's DER (hex), kept once as `CertificateSeen`. */
  readonly certificate?: string;
}

/** What an entry keeps in `metadata.signed` (sealed with the case's data in a case stream). */
export interface KeptSigned {
  /** The signed value, when it is not the entry's `data` itself (a receipt). */
  readonly payload?: JsonValue;
  readonly signature: KeptSignature;
}

export const certificateFingerprint = (cert: X509Certificate): string => createHash('sha256').update(cert.raw).digest('hex');

export class SignatureKeeper {
  /** Fingerprints of certificates already logged, by PEM text: parsing one costs more than checking a signature. */
  readonly #known = new BoundedCache<string, string>(certificateCacheLimit);
  constructor(
    readonly log: EventStore,
    readonly now: () => Date = () => new Date(),
  ) {}

  /** The signature as kept; its certificate is logged first, once. */
  async keep(signature: DetachedSignature): Promise<KeptSignature> {
    const kept = { alg: signature.alg, keyId: signature.keyId, value: signature.value };
    if (!signature.certificate) return kept;
    const known = this.#known.get(signature.certificate);
    if (known) return { ...kept, certificate: known };
    const cert = new X509Certificate(signature.certificate);
    const fingerprint = certificateFingerprint(cert);
    const messageId = hubDerivedUuid('certificate', fingerprint);
    if (!(await this.log.getByEventId(messageId))) {
      const event: CertificateSeen = {
        messageId,
        type: 'CertificateSeen',
        schemaVersion: 1,
        occurredAt: this.now().toISOString(),
        producer: hubProducer as unknown as CertificateSeen['producer'],
        legalBasis: 'Art. 5 Abs. 2 DSGVO (Rechenschaftspflicht)',
        purpose: 'Signer certificate kept so that the signatures in the log can be checked again',
        correlationId: messageId,
        data: { fingerprint, certificatePem: signature.certificate, serial: certificateFacts(cert)?.serial ?? cert.serialNumber },
      };
      try {
        await this.log.append(certificatesStream, [toRecord(event)]);
      } catch (error) {
        if (!(error instanceof DuplicateEventIdError)) throw error;
      }
    }
    this.#known.set(signature.certificate, fingerprint);
    return { ...kept, certificate: fingerprint };
  }
}
