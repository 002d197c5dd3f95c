import type { Author, MessageInfo, Party } from '../xpersonenstand/writers.ts';

/** Fictional header data for rendering test messages. */
export const testStandesamt: Author = {
  dvdv: 'psw:11007007',
  name: 'Standesamt Test',
  phone: '0421 361-0',
  address: { street: 'Am Markt', houseNumber: '1', postcode: '28195', city: 'Bremen' },
};
export const testPortal: Author = {
  dvdv: 'sap:000000013',
  name: 'Testportal Geburtsklinik',
  phone: '555-0100',
  address: { street: 'Portalweg', houseNumber: '5', postcode: '28195', city: 'Bremen' },
};
export const testElterngeldstelle: Party = { dvdv: 'egs:04011000', name: 'Elterngeldstelle Bremen (Test)' };

export function testMessageInfo(messageId: string, author: Author = testPortal, reader: Party = testStandesamt): MessageInfo {
  return { messageId, createdAt: '2026-11-05T09:30:00.000+01:00', author, reader, test: true };
}
