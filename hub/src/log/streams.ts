// Stream names of the log. All events of one birth case share a stream, so optimistic
// concurrency per case is one expected revision.
import type { GeburtenregisterKey } from '../../../contracts/index.ts';

export const birthStream = (key: GeburtenregisterKey): string =>
  `birth-${key.standesamtsnummer}-${key.registerart}-${key.jahr}-${key.eintragsnummer}`;

/** Receipts and dead letters of one delivery. */
export const deliveryStream = (deliveryId: string): string => `delivery-${deliveryId}`;

/** Erasure notices to the recipients of an erased case and their confirmations (not sealed: the case's key is gone). */
export const erasureStream = (caseId: string): string => `erasure-${caseId}`;

export const securityStream = 'security';
export const checkpointStream = 'log-checkpoints';
