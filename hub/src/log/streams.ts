// Stream names of the log. All events of one birth case share a stream, so optimistic
// concurrency per case is one expected revision.
import type { GeburtenregisterKey } from '../../../contracts/index.ts';

export const birthStream = (key: GeburtenregisterKey): string =>
  `birth-${key.standesamtsnummer}-${key.registerart}-${key.jahr}-${key.eintragsnummer}`;

/** Receipts and dead letters of one delivery. */
export const deliveryStream = (deliveryId: string): string => `delivery-${deliveryId}`;

export const securityStream = 'security';
export const checkpointStream = 'log-checkpoints';
