// What the codecs write validates against the official XPersonenstand 26.11 XSDs (xmllint).
import { describe, expect, it } from 'vitest';
import { correctionVorgang, render081020, render081021, render131011, toElterngeldDataSet, type BirthRegisteredData } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { testElterngeldstelle, testMessageInfo, testStandesamt } from '../../contracts/src/testing/messageInfo.ts';
import { fixture, fixturesAvailable } from '../support/fixtures.ts';
import { validateAgainstXsd, xmllintAvailable } from '../support/xmllint.ts';

if (!xmllintAvailable) console.warn('XSD validation skipped: xmllint not found (Debian package libxml2-utils; scripts/setup.sh installs it)');
const runnable = xmllintAvailable && fixturesAvailable;

const births: BirthRegisteredData[] = [
  sampleBirthRegistration(),
  sampleBirthRegistration({ parent2: undefined }),
  sampleBirthRegistration({
    child: {
      name: { firstNames: ['Łukasz', 'Ștefan'], familyName: 'Nguyễn', birthName: 'Çelik' },
      sex: 'm',
      birth: { date: '2026-02-28', time: '23:59', exact: true },
      placeOfBirth: { city: 'Köln' },
    },
  }),
  // Optional data missing: no place name, a child with first names only, a second parent
  // without first names (written nichtVorhanden) and without birth date (no geburt).
  sampleBirthRegistration({
    child: { name: { firstNames: ['Mia'] }, sex: 'w', birth: { date: '2026-11-01', time: '07:45', exact: true }, placeOfBirth: {} },
    parent2: { name: { familyName: 'Lee' }, sex: 'm' },
  }),
];

describe.skipIf(!runnable)('XSD validity of rendered messages', () => {
  it('the validator itself accepts the valid examples and refuses the invalid sample', () => {
    expect(validateAgainstXsd('portale', [fixture('examples/portal2StA.Geburt.081020.xml'), fixture('examples/portal2StA.Geburt.081021.xml')]).ok).toBe(true);
    expect(validateAgainstXsd('portale', [fixture('samples/Portal2StAGeburt081020_invalid.xml')]).ok).toBe(false);
  });

  it('131011 from every data set validates against xpersonenstand-nachrichten-elterngeldstelle.xsd', () => {
    const docs = births.map((b, i) => {
      const set = toElterngeldDataSet(b);
      if (!set.success) throw new Error(set.reason);
      return render131011(set.data, testMessageInfo(`3f2504e0-4f89-41d3-9a0c-0305e82c31${String(i).padStart(2, '0')}`, testStandesamt, testElterngeldstelle));
    });
    const result = validateAgainstXsd('elterngeldstelle', docs);
    expect(result.output).not.toMatch(/fails to validate/);
    expect(result.ok).toBe(true);
  });

  it('131011 of a correction, naming the corrected message in vorgangsidentifikation, validates too', () => {
    const docs = births.map((b, i) => {
      const set = toElterngeldDataSet(b);
      if (!set.success) throw new Error(set.reason);
      const info = testMessageInfo(`e1fe0001-4f89-81d3-9a0c-0305e82c33${String(i).padStart(2, '0')}`, testStandesamt, testElterngeldstelle);
      const xml = render131011(set.data, { ...info, vorgangsidentifikation: correctionVorgang(`e1fe0001-4f89-81d3-9a0c-0305e82c31${String(i).padStart(2, '0')}`, info.createdAt) });
      expect(xml).toContain('<xp:vorgangsidentifikation>');
      return xml;
    });
    const result = validateAgainstXsd('elterngeldstelle', docs);
    expect(result.output).not.toMatch(/fails to validate/);
    expect(result.ok).toBe(true);
    // A misplaced marker is refused by the same schema: the check above is not vacuous.
    const misplaced = docs[0]!.replace(/\s*<xp:vorgangsidentifikation>[\s\S]*<\/xp:vorgangsidentifikation>/, '').replace('</xp:auftragsnummer>', '</xp:auftragsnummer><xp:vorgangsidentifikation><ereignis.zeitpunkt>2026-11-05T09:30:00.000+01:00</ereignis.zeitpunkt><ereignis.zeichen>x</ereignis.zeichen></xp:vorgangsidentifikation>');
    expect(validateAgainstXsd('elterngeldstelle', [misplaced]).ok).toBe(false);
  });

  it('131011 carries exactly the § 25 BEEG data set plus the auftragsnummer', () => {
    const set = toElterngeldDataSet(births[0]!);
    if (!set.success) throw new Error(set.reason);
    const xml = render131011(set.data, testMessageInfo('3f2504e0-4f89-41d3-9a0c-0305e82c3177', testStandesamt, testElterngeldstelle));
    const body = xml.slice(xml.indexOf('</anschrift.autor>'));
    const elements = [...body.matchAll(/<xp:([\w.]+)/g)].map((m) => m[1]);
    expect(new Set(elements)).toEqual(
      new Set(['geburtseintragKind', 'behoerdenname', 'behoerdeFunktion', 'behoerdeName', 'standesamtsnummer', 'code', 'registerart', 'erstbeurkundungsjahr', 'eintragsnummer', 'geburtsort', 'ort', 'geburtstag', 'namenKind', 'familienname', 'vornamen', 'namenElternteil1', 'geburtsname', 'namenElternteil2', 'auftragsnummer']),
    );
    // No IdNr, address, sex or time of birth reaches the Elterngeldstelle.
    expect(xml).not.toMatch(/36574261809|Musterweg|07:45|geschlecht/);
  });

  it('081020 and 081021 written for test data validate against xpersonenstand-nachrichten-portale.xsd', () => {
    const docs = births.flatMap((b, i) => {
      const id = (n: number) => `3f2504e0-4f89-41d3-9a0c-0305e82c32${i}${n}`;
      const a = render081020(b, { ...testMessageInfo(id(0)), institution: 'Klinikum Mitte', zuordnung: `GA-${i}` });
      const c = render081021(b, { ...testMessageInfo(id(1)), zuordnung: `GA-${i}`, parentsEmail: 'eltern@example.org', zustaendigeElterngeldstelle: testElterngeldstelle });
      if (!a.success || !c.success) throw new Error('render refused');
      return [a.data, c.data];
    });
    const result = validateAgainstXsd('portale', docs);
    expect(result.output).not.toMatch(/fails to validate/);
    expect(result.ok).toBe(true);
  });
});
