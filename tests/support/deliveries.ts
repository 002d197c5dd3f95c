// A delivery as the hub schedules it to an Elterngeldstelle: the § 25 BEEG data set of the sample birth, in clear.
import { canonicalHash, toElterngeldDataSet, type Delivery } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';

export function elterngeldDelivery(deliveryId: string, recipient: { dvdv: string; name: string }): Delivery {
  const set = toElterngeldDataSet(sampleBirthRegistration());
  if (!set.success) throw new Error(set.reason);
  return {
    deliveryId,
    registerKey: set.data.registerKey,
    recipient: { role: 'elterngeldstelle', dvdv: recipient.dvdv as never, name: recipient.name },
    kind: 'initial',
    legalBasis: '§ 57 Abs. 1 Nr. 8 PStV',
    purpose: 'test',
    payload: set.data,
    payloadHash: canonicalHash(set.data),
    logPosition: 1,
    scheduledAt: '2026-11-05T10:00:00.000Z',
  };
}
