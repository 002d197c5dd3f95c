// Synthetic births as a Standesamt's system drops them into its watch directory: the parents'
// 081021 first, then the clinic's 081020, each written under a temporary name and renamed.
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { render081020, render081021 } from '../../contracts/index.ts';
import type { BirthScenario } from '../../hub/src/demo/synthetic.ts';

export function birthXml(s: BirthScenario, registration = s.registration): { notice: string; supplement: string } {
  const sta = { dvdv: `psw:${s.standesamt.standesamtsnummer}`, name: s.standesamt.name };
  const portal = { dvdv: 'sap:000000013', name: s.institution, phone: '0800 000000', address: { street: 'Klinikweg', houseNumber: '1', postcode: s.standesamt.address.postcode, city: s.standesamt.address.city } };
  const info = (messageId: string) => ({ messageId, createdAt: new Date().toISOString(), author: portal, reader: sta });
  const notice = render081020(registration, { ...info(s.ids.notice), institution: s.institution, zuordnung: registration.zuordnungGeburtsanzeige! });
  const supplement = render081021(registration, { ...info(s.ids.supplement), zuordnung: registration.zuordnungGeburtsanzeige!, parentsEmail: 'eltern@example.org' });
  if (!notice.success || !supplement.success) throw new Error(`birth ${s.index} cannot be written as XML`);
  return { notice: notice.data, supplement: supplement.data };
}

export const baseNameOf = (s: BirthScenario) => {
  const k = s.registration.registerKey;
  return `${k.standesamtsnummer}_G_${k.jahr}_${k.eintragsnummer}`;
};

export function dropBirth(watchDir: string, s: BirthScenario): void {
  const { notice, supplement } = birthXml(s);
  const base = path.join(watchDir, baseNameOf(s));
  writeFileSync(`${base}.081021.xml.tmp`, supplement);
  renameSync(`${base}.081021.xml.tmp`, `${base}.081021.xml`);
  writeFileSync(`${base}.081020.xml.tmp`, notice);
  renameSync(`${base}.081020.xml.tmp`, `${base}.081020.xml`);
}
