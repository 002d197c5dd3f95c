// An agency reports what became of a hand-off it received: in Bearbeitung, bewilligt,
// abgelehnt, ausgezahlt (no amounts, no reasons beyond a code), as a milestone signed with its
// own key, published on its receipt subject. The hub logs it only when the agency is the
// recipient of that delivery (anything else is refused and recorded as a security event). The
// milestone's id derives from what it says, so reporting the same again is the same milestone.
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { deterministicUuid, MilestoneSchema, receiptSubject, type Milestone, type MilestoneStatus, type Signer } from '../../contracts/index.ts';

export interface MilestoneReport {
  readonly deliveryId: string;
  readonly status: MilestoneStatus;
  readonly code?: string | undefined;
  /** When the agency decided (default now). */
  readonly reportedAt?: string;
}

/** The signed milestone as the agency sends it; throws (ZodError) on a malformed report. */
export function milestoneOf(dvdv: string, report: MilestoneReport): Milestone {
  return MilestoneSchema.parse({
    type: 'milestone',
    milestoneId: deterministicUuid('elfe-milestone', dvdv, report.deliveryId, report.status, report.code ?? ''),
    deliveryId: report.deliveryId,
    recipient: dvdv,
    status: report.status,
    ...(report.code ? { code: report.code } : {}),
    reportedAt: report.reportedAt ?? new Date().toISOString(),
  });
}

/** Publishes a milestone (JetStream acknowledges that it is stored; the hub checks and logs it after). */
export async function publishMilestone(nc: NatsConnection, signer: Signer, milestone: Milestone): Promise<{ seq: number; duplicate: boolean }> {
  const ack = await jetstream(nc).publish(receiptSubject(milestone.recipient), JSON.stringify({ payload: milestone, signature: signer.sign(milestone) }), { msgID: `milestone:${milestone.milestoneId}` });
  return { seq: ack.seq, duplicate: ack.duplicate };
}
