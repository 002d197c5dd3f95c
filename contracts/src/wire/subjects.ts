// NATS subjects and JetStream names of the exchange. A DVDV address `egs:04011000`
// becomes the two subject tokens `egs.04011000`, so wildcards select by kind of office.

/** Core NATS request/reply subjects of the hub's ingress: `elfe.submit.<prefix>.<kennung>` per sender. */
export const submitSubject = 'elfe.submit';

export const deliveryStream = 'ELFE_DELIVERIES';
export const receiptStream = 'ELFE_RECEIPTS';

function tokens(dvdv: string): string {
  const [prefix, kennung, ...rest] = dvdv.split(':');
  if (!prefix || !kennung || rest.length > 0 || !/^[a-z]{2,5}$/.test(prefix) || !/^[0-9A-Za-z][0-9A-Za-z_-]*$/.test(kennung)) {
    throw new Error(`not a DVDV address usable as a subject: ${dvdv}`);
  }
  return `${prefix}.${kennung}`;
}

/** JetStream subject carrying the deliveries for one recipient. */
export const deliverySubject = (dvdv: string): string => `elfe.delivery.${tokens(dvdv)}`;

/** JetStream subject on which one agency publishes its receipts. */
export const receiptSubject = (dvdv: string): string => `elfe.receipt.${tokens(dvdv)}`;

/** Durable consumer name of an agency connector. */
export const consumerName = (dvdv: string): string => `agency-${tokens(dvdv).replace('.', '-')}`;

/** The hub's identity: the one DVDV address whose certificate may sign deliveries. */
export const hubIdentity = { dvdv: 'hub:elfe-hub', name: 'elfe-hub' } as const;

/** The hub's ingress responder: a connection that may publish nothing but responses. */
export const hubIngressIdentity = { dvdv: 'hub:ingress', name: 'elfe-hub ingress' } as const;

/**
 * A party's own inbox prefix (`_INBOX.psw.11007007`): its requests' replies and its
 * JetStream API answers arrive below it, and it may subscribe nowhere else under `_INBOX`.
 */
export const inboxPrefixOf = (dvdv: string): string => `_INBOX.${tokens(dvdv)}`;

/** Where the hub answers an agency's milestones: below the agency's own inbox, which only it reads. */
export const milestoneAnswerSubject = (dvdv: string): string => `${inboxPrefixOf(dvdv)}.milestone-answers`;

/** Whether a reply subject lies in the given party's own inbox. */
export function isInboxOf(subject: string, dvdv: string): boolean {
  let prefix: string;
  try {
    prefix = inboxPrefixOf(dvdv);
  } catch {
    return false;
  }
  return subject.startsWith(`${prefix}.`) && subject.length > prefix.length + 1 && !/[\s*>]/.test(subject);
}

/**
 * The one subject a party may submit on (the nats-server enforces it), so the hub knows from
 * the subject which party's connection sent a submission, even one it cannot verify.
 */
export const submitSubjectOf = (dvdv: string): string => `${submitSubject}.${tokens(dvdv)}`;

/** The sending party (`psw:11007007`) named by a submit subject, if it is one. */
export function senderOfSubmitSubject(subject: string): string | undefined {
  const m = /^elfe\.submit\.([a-z]{2,5})\.([0-9A-Za-z][0-9A-Za-z_-]*)$/.exec(subject);
  return m ? `${m[1]}:${m[2]}` : undefined;
}
