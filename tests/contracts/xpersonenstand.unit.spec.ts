import { describe, expect, it } from 'vitest';
import {
  joinBirth,
  readBirthMessage,
  readBirthMessageOf,
  render081020,
  render081021,
  render131011,
  correctionVorgang,
  correctedMessageOf,
  toElterngeldDataSet,
  toBirthRegistered,
  BirthRegisteredSchema,
  type BirthNotice,
  type ParentsSupplement,
  type GeburtenregisterKey,
  GeburtenregisterKeySchema,
  ProducerSchema,
} from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { testElterngeldstelle, testMessageInfo, testStandesamt } from '../../contracts/src/testing/messageInfo.ts';
import { fixture, fixturesAvailable } from '../support/fixtures.ts';

const key: GeburtenregisterKey = GeburtenregisterKeySchema.parse({ standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: '334' });

function read(xml: string) {
  const r = readBirthMessage(xml);
  if (!r.success) throw new Error(`refused: ${JSON.stringify(r.error)}`);
  return r.data;
}

describe.skipIf(!fixturesAvailable)('XPersonenstand readers on the shared fixtures', () => {
  it.each(['samples/Portal2StAGeburt081020.xml', 'samples/Portal2StAGeburt081020_xpsw2511.xml', 'examples/portal2StA.Geburt.081020.xml'])(
    'reads the valid 081020 %s',
    (file) => {
      const notice = read(fixture(file));
      expect(notice.kind).toBe('081020');
      expect(notice.header.reader.dvdv).toBe('psw:11007007');
      expect(notice.mother.name.familyName).toBe('Lee');
      expect(notice.child.sex).toBe('w');
    },
  );

  it('reads both releases into the same facts', () => {
    const a = read(fixture('samples/Portal2StAGeburt081020.xml'));
    const b = read(fixture('samples/Portal2StAGeburt081020_xpsw2511.xml'));
    expect(a.header.release).toBe('26.11');
    expect(b.header.release).toBe('25.11');
    expect({ ...a, header: undefined }).toEqual({ ...b, header: undefined });
  });

  it('refuses the old-style header under the 26.11 namespace', () => {
    const r = readBirthMessage(fixture('samples/Portal2StAGeburt081020_invalid.xml'));
    expect(r.success).toBe(false);
    if (!r.success) {
      expect(r.error.code).toBe('missing-element');
      expect(r.error.path).toBe('/xp:portal2StA.Geburt.081020/nachrichtenkopf.g2g');
    }
  });

  it('refuses the unsupported release 25.05', () => {
    const r = readBirthMessage(fixture('samples/Portal2StAGeburt081020_invalid_xpsw2505.xml'));
    expect(r.success ? 'accepted' : r.error.code).toBe('unknown-namespace');
  });

  it('refuses the death notice 084020 as a message the birth reader does not take', () => {
    const r = readBirthMessage(fixture('samples/Portal2StASterbefall084020.xml'));
    expect(r.success ? 'accepted' : r.error.code).toBe('unsupported-message');
  });

  it('joins the example pair by zuordnungGeburtsanzeige into a valid BirthRegistered', () => {
    const notice = readBirthMessageOf('081020', fixture('examples/portal2StA.Geburt.081020.xml'));
    const supplement = readBirthMessageOf('081021', fixture('examples/portal2StA.Geburt.081021.xml'));
    if (!notice.success || !supplement.success) throw new Error('fixtures refused');
    const joined = joinBirth(notice.data, supplement.data, key);
    if (!joined.success) throw new Error(JSON.stringify(joined.error));
    expect(joined.data.consent).toEqual({ elterngeldstelle: true, auftragsnummer: 'EG-2026-4711', zustaendigeElterngeldstelle: 'egs:04011000' });
    expect(joined.data.child.name).toEqual({ firstNames: ['Mia'], familyName: 'Lee' });
    expect(joined.data.child.birth).toEqual({ date: '2026-11-01', time: '07:45', exact: true });
    expect(joined.data.parent1.birthDate).toBe('1994-05-17');
    expect(joined.data.zuordnungGeburtsanzeige).toBe('GA-2026-11-0001');
    expect(joined.data.sourceMessageIds).toEqual(['3f2504e0-4f89-41d3-9a0c-0305e82c3020', '3f2504e0-4f89-41d3-9a0c-0305e82c3021']);
    const event = toBirthRegistered(joined.data, {
      messageId: '0b7c1f52-3c1e-4d55-9a43-6f0e2f1d2a11',
      occurredAt: '2026-11-05T10:00:00.000+01:00',
      producer: ProducerSchema.parse({ dvdv: 'psw:11007007', name: 'Standesamt Test', role: 'standesamt' }),
    });
    expect(BirthRegisteredSchema.safeParse(event).success).toBe(true);
  });

  it('refuses to join messages of different births', () => {
    const notice = read(fixture('examples/portal2StA.Geburt.081020.xml')) as BirthNotice;
    const other = fixture('examples/portal2StA.Geburt.081021.xml').replace('GA-2026-11-0001', 'GA-2026-11-0002');
    const joined = joinBirth(notice, read(other) as ParentsSupplement, key);
    expect(joined.success ? 'joined' : joined.error.code).toBe('join-mismatch');
  });

  it('without 081021 there is no consent', () => {
    const joined = joinBirth(read(fixture('examples/portal2StA.Geburt.081020.xml')) as BirthNotice, undefined, key);
    expect(joined.success && joined.data.consent).toEqual({ elterngeldstelle: false });
  });
});

describe.skipIf(!fixturesAvailable)('refusals with codes and paths', () => {
  const valid = () => fixture('examples/portal2StA.Geburt.081020.xml');
  const cases: [string, () => string, string, string?][] = [
    ['an impossible date', () => valid().replace('<xp:tag>2026-11-01</xp:tag>', '<xp:tag>2026-02-30</xp:tag>'), 'invalid-date', '/xp:portal2StA.Geburt.081020/xp:geburtsangaben/xp:tag'],
    ['a name outside DIN 91379', () => valid().replace('<name>Sophia</name>', '<name>Соня</name>'), 'invalid-name', '/xp:portal2StA.Geburt.081020/xp:mutter/xp:standard/xp:namen/xp:vornamen/name'],
    ['a digit in a name', () => valid().replace('<name>Lee</name>', '<name>L33</name>'), 'invalid-name'],
    ['a missing mandatory element', () => valid().replace(/<xp:kind>[\s\S]*?<\/xp:kind>/, ''), 'missing-element', '/xp:portal2StA.Geburt.081020/xp:kind'],
    ['an unknown Geschlecht code', () => valid().replace('<code>w</code>', '<code>q</code>'), 'invalid-value'],
    ['a message code that contradicts the root', () => valid().replace('<code>081020</code>', '<code>081021</code>'), 'unsupported-message'],
    ['a bad time of day', () => valid().replace('<xp:uhrzeit>07:45</xp:uhrzeit>', '<xp:uhrzeit>27:45</xp:uhrzeit>'), 'invalid-value'],
    ['a confidential birth', () => valid().replace(/<xp:standard>[\s\S]*<\/xp:standard>/, '<xp:vertraulich><xp:vornamen>A</xp:vornamen><xp:familienname>B</xp:familienname></xp:vertraulich>'), 'confidential-birth'],
    ['a foreign namespace', () => valid().replace('http://xpsw.domap.de/xpsw2611', 'urn:evil'), 'unknown-namespace'],
    ['not XML at all', () => '{"json": true}', 'malformed'],
    ['unclosed elements', () => valid().slice(0, 2000), 'malformed'],
  ];
  it.each(cases)('refuses %s', (_name, make, code, path) => {
    const r = readBirthMessage(make());
    expect(r.success ? 'accepted' : r.error.code).toBe(code);
    if (!r.success && path) expect(r.error.path).toBe(path);
  });
});

describe('hostile XML never gets past the codec', () => {
  const root = (inner: string) => `<xp:portal2StA.Geburt.081020 xmlns:xp="http://xpsw.domap.de/xpsw2611">${inner}</xp:portal2StA.Geburt.081020>`;
  it.each([
    ['billion laughs', `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>${root('&lol2;')}`, 'doctype-forbidden'],
    ['an external entity', `<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${root('&xxe;')}`, 'doctype-forbidden'],
    ['an external DTD', `<!DOCTYPE x SYSTEM "http://example.org/x.dtd">${root('')}`, 'doctype-forbidden'],
    ['a lower-case doctype', `<!doctype x>${root('')}`, 'doctype-forbidden'],
    ['deep nesting', root(`${'<a>'.repeat(500)}${'</a>'.repeat(500)}`), 'too-deep'],
    ['a huge document', root(`<x>${'a'.repeat(2 * 1024 * 1024)}</x>`), 'too-large'],
    ['an undefined entity', root('&undefined;'), 'malformed'],
  ])('refuses %s', (_name, xml, code) => {
    const r = readBirthMessage(xml);
    expect(r.success ? 'accepted' : r.error.code).toBe(code);
  });
});

describe('writers round-trip through the readers', () => {
  const births = [
    sampleBirthRegistration(),
    sampleBirthRegistration({ consent: { elterngeldstelle: false } }),
    sampleBirthRegistration({ parent2: undefined }),
  ];
  it.each(births.map((b, i) => [i, b] as const))('birth %i: render 081020 + 081021, read, join gives the same registration', (_i, birth) => {
    const [id1, id2] = birth.sourceMessageIds;
    const notice = render081020(birth, { ...testMessageInfo(id1!), institution: 'Klinikum Bremen-Mitte', zuordnung: birth.zuordnungGeburtsanzeige! });
    const supplement = render081021(birth, { ...testMessageInfo(id2!), zuordnung: birth.zuordnungGeburtsanzeige!, parentsEmail: 'eltern@example.org' });
    if (!notice.success || !supplement.success) throw new Error('render refused');
    const joined = joinBirth(read(notice.data) as BirthNotice, read(supplement.data) as ParentsSupplement, birth.registerKey);
    if (!joined.success) throw new Error(JSON.stringify(joined.error));
    // IdNrs do not travel in 081020/081021: the Meldebehörde supplies them later.
    const { idnr: _p1, ...parent1 } = birth.parent1;
    const expected = { ...birth, parent1, ...(birth.parent2 ? { parent2: birth.parent2 } : {}) };
    expect(joined.data).toEqual(expected);
  });

  it('escapes text so that markup in values stays text', () => {
    const birth = sampleBirthRegistration({ consent: { elterngeldstelle: true, auftragsnummer: 'A<&>"B' } });
    const supplement = render081021(birth, { ...testMessageInfo(birth.sourceMessageIds[1]!), zuordnung: 'GA-1', parentsEmail: 'e@example.org' });
    if (!supplement.success) throw new Error('render refused');
    expect((read(supplement.data) as ParentsSupplement).auftragsnummer).toBe('A<&>"B');
  });
});

describe('131011 tells a correction from a first notification', () => {
  const set = toElterngeldDataSet(sampleBirthRegistration());
  if (!set.success) throw new Error(set.reason);
  const firstId = 'e1fe0001-4f89-81d3-9a0c-0305e82c3301';
  const info = (id: string) => testMessageInfo(id, testStandesamt, testElterngeldstelle);

  it('a first notification carries no vorgangsidentifikation', () => {
    expect(render131011(set.data, info(firstId))).not.toContain('vorgangsidentifikation');
  });

  it('a correction names the corrected 131011 by its nachrichtenUUID in vorgangsidentifikation, after the header', () => {
    const header = info('e1fe0001-4f89-81d3-9a0c-0305e82c3302');
    const xml = render131011(set.data, { ...header, vorgangsidentifikation: correctionVorgang(firstId, header.createdAt) });
    expect(xml).toMatch(
      new RegExp(
        '</anschrift\\.autor>\\s*<xp:vorgangsidentifikation>\\s*<ereignis\\.zeitpunkt>2026-11-05T09:30:00\\.000\\+01:00</ereignis\\.zeitpunkt>\\s*' +
          `<ereignis\\.zeichen>Berichtigung-${firstId}</ereignis\\.zeichen>\\s*</xp:vorgangsidentifikation>\\s*<xp:geburtseintragKind>`,
      ),
    );
    const zeichen = /<ereignis\.zeichen>([^<]*)</.exec(xml)![1]!;
    expect(correctedMessageOf(zeichen)).toBe(firstId);
    // The XÖV rule for an Ereignis.Zeichen: at most 100 characters, at most 8 besides A-Z, a-z, 0-9.
    expect(zeichen.length).toBeLessThanOrEqual(100);
    expect(zeichen.replace(/[A-Za-z0-9]/g, '').length).toBeLessThanOrEqual(8);
  });

  it('reads no reference out of another Vorgang\'s zeichen, and writes none that breaks the XÖV rule', () => {
    expect(correctedMessageOf('334-2026')).toBeUndefined();
    expect(() => correctionVorgang('G 334/2026', '2026-11-05T09:30:00.000+01:00')).toThrow();
    expect(() => render131011(set.data, { ...info(firstId), vorgangsidentifikation: { zeitpunkt: '2026-11-05T09:30:00.000+01:00', zeichen: 'a-b-c-d-e-f-g-h-i-j' } })).toThrow(/Ereignis.Zeichen/);
  });
});
