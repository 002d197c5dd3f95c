// Contract events as log records, and back.
import { randomUUID } from 'node:crypto';
import { hubDerivedUuid, hubIdentity, parseEvent, type ElfeEvent, type SecurityEventRecorded } from '../../../contracts/index.ts';
import type { JsonValue, NewEvent, StoredEvent } from './eventStore.ts';

/**
 * The hub's identity as a producer of events (deliveries, receipts, checkpoints). Their ids
 * lie in the hub's own namespace (`hubDerivedUuid`), which no submission may use.
 */
export const hubProducer = { ...hubIdentity, role: 'hub' } as const;

export function toRecord(event: ElfeEvent, metadata: Record<string, JsonValue> = {}): NewEvent {
  return { eventId: event.messageId, type: event.type, data: event as unknown as JsonValue, metadata };
}

/** Events parsed lately, by the stored data they came from: an entry read by several followers is parsed once. */
const parsedEvents = new WeakMap<object, ElfeEvent | null>();

export function fromRecord(stored: StoredEvent): ElfeEvent | undefined {
  const data = stored.data;
  const cacheable = typeof data === 'object' && data !== null && Object.isFrozen(stored);
  if (cacheable) {
    const known = parsedEvents.get(data);
    if (known !== undefined) return known ?? undefined;
  }
  const parsed = parseEvent(data);
  const event = parsed.success ? parsed.data : undefined;
  if (cacheable) parsedEvents.set(data, event ?? null);
  return event;
}

/** A security event: who tried what and why it was refused; never the refused payload's personal data. */
export function securityEvent(now: Date, data: SecurityEventRecorded['data']): SecurityEventRecorded {
  const messageId = hubDerivedUuid('security', randomUUID());
  return {
    messageId,
    type: 'SecurityEventRecorded',
    schemaVersion: 1,
    occurredAt: now.toISOString(),
    producer: hubProducer as unknown as SecurityEventRecorded['producer'],
    legalBasis: 'Art. 32 DSGVO (Sicherheit der Verarbeitung)',
    purpose: 'Record of a refused message',
    correlationId: messageId,
    data,
  };
}
