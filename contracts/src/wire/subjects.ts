// NATS subjects and JetStream names of the exchange. A DVDV address `egs:04011000`
// becomes the two subject tokens `egs.04011000`, so wildcards select by kind of office.

/** Core NATS request/reply subject of the hub's ingress. */
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
