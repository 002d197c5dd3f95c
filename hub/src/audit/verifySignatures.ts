// The audit of kept signatures: every submission and every receipt in the log must carry the
// signature of the party that made it, over the canonical bytes of what it kept, by a
// certificate of the exchange's CA that was valid and not revoked at the time the hub received
// it. Certificates come from the log's own `CertificateSeen` entries. Entries of erased cases
// are ciphertext nobody can open any more: "erased, not checkable", not a failure.
import { certificateVerifier, parseCrl, parseEvent, type DetachedSignature, type Verifier } from '../../../contracts/index.ts';
import type { CaseKeyStore } from '../log/caseKeys.ts';
import { isSealed, openEntry } from '../log/caseLog.ts';
import type { StoredEvent } from '../log/eventStore.ts';
import type { KeptSigned } from '../log/signatures.ts';

export type SignatureAuditCode =
  /** A submission or receipt without a kept signature: the hub made it up, or dropped the proof. */
  | 'unsigned'
  /** The kept signature does not check (bytes altered, or not the signer's). */
  | 'signature-invalid'
  /** The signature refers to a certificate the log did not keep before it. */
  | 'certificate-unknown'
  /** The certificate is not the CA's, was not valid then, or was revoked by then. */
  | 'certificate-invalid'
  /** Signed by another party than the entry names. */
  | 'signer-mismatch'
  /** A sealed entry whose case key exists but does not open it, or whose case has no key and was never erased. */
  | 'unreadable';

export interface SignatureTally {
  checked: number;
  /** Entries of erased cases: their signatures cannot be checked any more. */
  erased: number;
}

/** Types whose entries must carry a party's signature. */
const signedTypes = new Set(['BirthRegistered', 'BirthRegistrationCorrected', 'ParentalConsentWithdrawn', 'ChildIdNrAssigned', 'DeliveryAcknowledged', 'DeliveryRejected', 'ErasureConfirmed', 'HandOffMilestone', 'TrackingCodeRevoked']);
const receiptTypes = new Set(['DeliveryAcknowledged', 'DeliveryRejected']);

export interface SignatureAuditOptions {
  readonly caCertificatePem: string;
  readonly crlPem: string;
  /** The hub's case keys; without them sealed entries are not checkable. */
  readonly keys?: CaseKeyStore;
}

export class SignatureAudit {
  readonly tally: SignatureTally = { checked: 0, erased: 0 };
  readonly #verifier: Verifier;
  readonly #certificates = new Map<string, string>();
  readonly #keys: CaseKeyStore | undefined;

  constructor(options: SignatureAuditOptions) {
    const crl = parseCrl(options.crlPem, options.caCertificatePem);
    if (!crl.success) throw crl.error;
    const revokedAt = new Map(crl.data.entries.map((e) => [e.serial, e.revokedAt]));
    // Revocation as of each signature's time: a certificate revoked later does not void earlier signatures.
    this.#verifier = certificateVerifier({ caCertificatePem: options.caCertificatePem, revokedSerials: () => crl.data.serials, revokedSince: (serial) => revokedAt.get(serial) });
    this.#keys = options.keys;
  }

  /** Checks one entry, in log order; a problem names why. */
  check(stored: StoredEvent): { code: SignatureAuditCode; reason: string } | undefined {
    if (stored.type === 'CertificateSeen') {
      const event = parseEvent(stored.data);
      if (event.success && event.data.type === 'CertificateSeen') this.#certificates.set(event.data.data.fingerprint, event.data.data.certificatePem);
      return undefined;
    }
    if (!signedTypes.has(stored.type)) return undefined;
    let entry = stored;
    if (isSealed(stored.data)) {
      const caseId = stored.data.sealed.case;
      const key = this.#keys?.keyOf(caseId);
      if (!key) {
        if (!this.#keys || this.#keys.isErased(caseId)) {
          this.tally.erased++;
          return undefined;
        }
        return { code: 'unreadable', reason: `case ${caseId} has no key and was never erased` };
      }
      const opened = openEntry(stored, key);
      if (!opened) return { code: 'unreadable', reason: 'the sealed entry does not open with its case key' };
      entry = opened;
    }
    const metadata = (entry.metadata ?? {}) as { signed?: KeptSigned; receivedAt?: string; hubReceivedAt?: string; signerDvdv?: string };
    const signed = metadata.signed;
    if (!signed?.signature) return { code: 'unsigned', reason: `${stored.type} carries no signature of the party that made it` };
    const pem = signed.signature.certificate ? this.#certificates.get(signed.signature.certificate) : undefined;
    if (!pem) return { code: 'certificate-unknown', reason: `the certificate ${signed.signature.certificate ?? '(none)'} was not kept before the entry` };
    const payload = signed.payload ?? entry.data;
    const signature: DetachedSignature = { alg: signed.signature.alg, keyId: signed.signature.keyId, value: signed.signature.value, certificate: pem };
    const at = new Date(metadata.receivedAt ?? metadata.hubReceivedAt ?? stored.recordedAt);
    const verified = this.#verifier.verify(payload, signature, at);
    if (!verified.success) {
      const code = verified.error.code === 'signature-invalid' || verified.error.code === 'signature-malformed' ? 'signature-invalid' : 'certificate-invalid';
      return { code, reason: `${stored.type}: ${verified.error.message}` };
    }
    const signer = verified.data;
    const data = entry.data as { producer?: { dvdv?: string; role?: string }; data?: { deliveryId?: string; recipient?: string; receivedHash?: string } } | null;
    if (stored.type === 'ErasureConfirmed') {
      // A recipient's erasure receipt: the notice, the recipient and the deliveries it names are the entry's.
      const receipt = payload as { noticeId?: string; recipient?: string; deliveryIds?: string[]; erasedAt?: string } | null;
      const d = (data?.data ?? {}) as { noticeId?: string; recipient?: string; deliveryIds?: string[]; erasedAt?: string };
      const agency = signer.role === 'elterngeldstelle' || signer.role === 'familienkasse';
      if (!agency || receipt?.recipient !== signer.dvdv || receipt.noticeId !== d.noticeId || receipt.recipient !== d.recipient || receipt.erasedAt !== d.erasedAt || JSON.stringify(receipt.deliveryIds) !== JSON.stringify(d.deliveryIds)) {
        return { code: 'signer-mismatch', reason: `the erasure receipt signed by ${signer.dvdv} is not the one the entry records` };
      }
    } else if (stored.type === 'HandOffMilestone') {
      // A recipient's milestone: delivery, recipient, status and code are the entry's.
      const m = payload as { milestoneId?: string; deliveryId?: string; recipient?: string; status?: string; code?: string } | null;
      const d = (data?.data ?? {}) as { milestoneId?: string; deliveryId?: string; recipient?: string; status?: string; code?: string };
      if (m?.recipient !== signer.dvdv || m.recipient !== d.recipient || m.deliveryId !== d.deliveryId || m.milestoneId !== d.milestoneId || m.status !== d.status || m.code !== d.code) {
        return { code: 'signer-mismatch', reason: `the milestone signed by ${signer.dvdv} is not the one the entry records` };
      }
    } else if (receiptTypes.has(stored.type)) {
      const receipt = payload as { deliveryId?: string; recipient?: string; receivedHash?: string } | null;
      if (receipt?.recipient !== signer.dvdv || receipt.deliveryId !== data?.data?.deliveryId || receipt.recipient !== data?.data?.recipient || receipt.receivedHash !== data?.data?.receivedHash) {
        return { code: 'signer-mismatch', reason: `the receipt signed by ${signer.dvdv} is not the one the entry records` };
      }
    } else if (data?.producer?.dvdv !== signer.dvdv || data.producer.role !== signer.role) {
      return { code: 'signer-mismatch', reason: `signed by ${signer.dvdv}, the entry names ${String(data?.producer?.dvdv)}` };
    }
    this.tally.checked++;
    return undefined;
  }
}
