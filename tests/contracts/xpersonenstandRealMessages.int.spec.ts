// Variants of the real 081020/081021 messages, each proven schema-valid with xmllint before
// the readers see it: what the official XSD accepts must be read, unless a legal rule needs more.
//
// Fixtures: the official 081020 sample exists in both releases; there is no official 081021
// sample, so the project's 26.11 example stands in for it (and its 25.11 twin is derived by
// namespace). There is no 25.11 XSD in the fixtures: a 25.11 variant is validated as the same
// document under the 26.11 namespace (the two samples differ only in namespace and version).
import { DOMParser, XMLSerializer, type Document, type Element } from '@xmldom/xmldom';
import { describe, expect, it } from 'vitest';
import {
  GeburtenregisterKeySchema,
  joinBirth,
  readBirthMessage,
  render131011,
  toElterngeldDataSet,
  type BirthMessage,
  type BirthNotice,
  type ParentsSupplement,
} from '../../contracts/index.ts';
import { testElterngeldstelle, testMessageInfo, testStandesamt } from '../../contracts/src/testing/messageInfo.ts';
import { fixture, fixturesAvailable } from '../support/fixtures.ts';
import { validateAgainstXsd, xmllintAvailable } from '../support/xmllint.ts';

const runnable = fixturesAvailable && xmllintAvailable;
type Release = '2511' | '2611';
const releases: Release[] = ['2611', '2511'];

const keyOf = (eintragsnummer: string) => GeburtenregisterKeySchema.parse({ standesamtsnummer: '11007007', registerart: 'G', jahr: 2024, eintragsnummer });

/** The official 081020 sample of the release. */
const notice081020 = (r: Release) => fixture(r === '2611' ? 'samples/Portal2StAGeburt081020.xml' : 'samples/Portal2StAGeburt081020_xpsw2511.xml');
/** The 081021 example (26.11), moved to the release and to the sample's birth (2024-11-01, girl). */
const supplement081021 = (r: Release) => toRelease(fixture('examples/portal2StA.Geburt.081021.xml'), r).replace('<xp:tag>2026-11-01</xp:tag>', '<xp:tag>2024-11-01</xp:tag>');

function toRelease(xml: string, r: Release): string {
  const from = r === '2611' ? '2511' : '2611';
  const v = (x: Release) => `${x.slice(0, 2)}.${x.slice(2)}`;
  return xml.replaceAll(`xpsw${from}`, `xpsw${r}`).replaceAll(`"${v(from)}"`, `"${v(r)}"`);
}

/** Validates 25.11 and 26.11 documents against the 26.11 XSD (the only release whose XSD is here). */
function expectSchemaValid(docs: readonly string[]): void {
  const result = validateAgainstXsd('portale', docs.map((d) => toRelease(d, '2611')));
  expect(result.output).not.toMatch(/fails to validate|error/);
  expect(result.ok).toBe(true);
}

// --- DOM editing -------------------------------------------------------------------------
const parse = (xml: string): Document => new DOMParser().parseFromString(xml, 'text/xml');
const serialize = (doc: Document): string => new XMLSerializer().serializeToString(doc);
const body = (doc: Document, local: string): Element => {
  const found = doc.documentElement!.getElementsByTagNameNS('*', local)[0];
  if (!found) throw new Error(`no ${local}`);
  return found;
};
/** Parses a fragment whose body elements use prefix `xp:` and the header elements none. */
function fragment(doc: Document, xml: string): Element {
  const ns = doc.documentElement!.namespaceURI!;
  const wrapped = parse(`<w xmlns:xp="${ns}">${xml}</w>`).documentElement!;
  const el = wrapped.getElementsByTagNameNS('*', '*')[0]!;
  return doc.importNode(el, true) as Element;
}
function edit(xml: string, change: (doc: Document) => void): string {
  const doc = parse(xml);
  change(doc);
  return serialize(doc);
}
const insertAfter = (ref: Element, node: Element) => ref.parentNode!.insertBefore(node, ref.nextSibling);
const setText = (el: Element, text: string) => {
  el.textContent = text;
};
const setUuid = (doc: Document, uuid: string) => setText(doc.getElementsByTagName('nachrichtenUUID')[0]!, uuid);
/** `zuordnungGeburtsanzeige` in 081020, where it follows the last body element before `anhang`. */
const addZuordnung = (doc: Document, value: string) => doc.documentElement!.appendChild(fragment(doc, `<xp:zuordnungGeburtsanzeige>${value}</xp:zuordnungGeburtsanzeige>`));

const namen = (family: string, first: string) =>
  `<xp:namen><xp:familienname><name>${family}</name></xp:familienname><xp:vornamen><name>${first}</name></xp:vornamen></xp:namen>`;
const geschlecht = (code: string) => `<xp:geschlecht listURI="urn:xoev-de:xinneres:codeliste:geschlecht" listVersionID="1"><code>${code}</code></xp:geschlecht>`;
const staatsangehoerigkeit = '<xp:staatsangehoerigkeit><xp:code listVersionID="2024-02-29"><code>000</code></xp:code></xp:staatsangehoerigkeit>';

/** 081020's `elternteil2` (`Elternteil.Basis`): names only, the XSD has no birth date here. */
const withParent2In081020 = (doc: Document) => insertAfter(body(doc, 'mutter'), fragment(doc, `<xp:elternteil2>${namen('Lee', 'Daniel')}</xp:elternteil2>`));
/** 081021's `elternteil2` (`Elternteil.Erweitert`) with or without `geburt` (0..1). */
const withParent2In081021 = (doc: Document, birthDate?: string) =>
  insertAfter(
    body(doc, 'mutter'),
    fragment(
      doc,
      `<xp:elternteil2>${namen('Lee', 'Daniel')}${birthDate ? `<xp:geburt><xp:ort><xp:ort>Bremen</xp:ort></xp:ort><xp:tag>${birthDate}</xp:tag></xp:geburt>` : ''}${geschlecht('m')}${staatsangehoerigkeit}</xp:elternteil2>`,
    ),
  );

function read<K extends BirthMessage['kind']>(kind: K, xml: string): Extract<BirthMessage, { kind: K }> {
  const r = readBirthMessage(xml);
  if (!r.success) throw new Error(`refused: ${JSON.stringify(r.error)}`);
  expect(r.data.kind).toBe(kind);
  return r.data as Extract<BirthMessage, { kind: K }>;
}

describe.skipIf(!runnable).each(releases)('real messages of release %s and schema-valid variants', (r) => {
  it('the unchanged sample and example are schema-valid and read', () => {
    expectSchemaValid([notice081020(r), supplement081021(r)]);
    expect(read('081020', notice081020(r)).header.release).toBe(r === '2611' ? '26.11' : '25.11');
    expect(read('081021', supplement081021(r)).consentElterngeldstelle).toBe(true);
  });

  it('a second parent given by name but without birth date is read and joined', () => {
    const notice = edit(notice081020(r), (d) => {
      withParent2In081020(d);
      addZuordnung(d, 'GA-P2');
    });
    const supplement = edit(supplement081021(r), (d) => {
      withParent2In081021(d);
      setText(body(d, 'zuordnungGeburtsanzeige'), 'GA-P2');
    });
    expectSchemaValid([notice, supplement]);

    const n = read('081020', notice);
    const s = read('081021', supplement);
    expect(n.parent2?.name).toEqual({ firstNames: ['Daniel'], familyName: 'Lee' });
    expect(s.parent2?.birthDate).toBeUndefined();
    for (const joined of [joinBirth(n, s, keyOf('334')), joinBirth(n, undefined, keyOf('334'))]) {
      if (!joined.success) throw new Error(`join refused: ${JSON.stringify(joined.error)}`);
      expect(joined.data.parent2?.name.familyName).toBe('Lee');
      expect(joined.data.parent2?.birthDate).toBeUndefined();
    }
  });

  it('optional elements stay optional: no place name, no residence, a child with first names only, a parent without first names', () => {
    const notice = edit(notice081020(r), (d) => {
      const ort = body(d, 'geburtsangaben').getElementsByTagNameNS('*', 'ort')[0]!;
      ort.removeChild(ort.getElementsByTagNameNS('*', 'ort')[0]!);
      const anschrift = body(d, 'anschrift');
      anschrift.removeChild(anschrift.getElementsByTagName('wohnort')[0]!);
      addZuordnung(d, 'GA-OPT');
    });
    const supplement = edit(supplement081021(r), (d) => {
      const kindNamen = body(d, 'kind').getElementsByTagNameNS('*', 'namen')[0]!;
      kindNamen.removeChild(kindNamen.getElementsByTagNameNS('*', 'familienname')[0]!);
      const ort = body(d, 'geburtsangaben').getElementsByTagNameNS('*', 'ort')[0]!;
      ort.removeChild(ort.getElementsByTagNameNS('*', 'ort')[0]!);
      insertAfter(
        body(d, 'mutter'),
        fragment(d, `<xp:elternteil2><xp:namen><xp:familienname><name>Lee</name></xp:familienname><xp:vornamen><nichtVorhanden>true</nichtVorhanden></xp:vornamen></xp:namen>${geschlecht('m')}${staatsangehoerigkeit}</xp:elternteil2>`),
      );
      setText(body(d, 'zuordnungGeburtsanzeige'), 'GA-OPT');
    });
    expectSchemaValid([notice, supplement]);

    const n = read('081020', notice);
    const s = read('081021', supplement);
    expect(n.birth.place.city).toBeUndefined();
    expect(n.mother.address?.city).toBeUndefined();
    expect(s.child.name).toEqual({ firstNames: ['Mia'] });
    expect(s.parent2?.name).toEqual({ familyName: 'Lee' });
    const joined = joinBirth(n, s, keyOf('336'));
    if (!joined.success) throw new Error(`join refused: ${JSON.stringify(joined.error)}`);

    // The § 25 BEEG data set still renders a schema-valid 131011.
    const set = toElterngeldDataSet(joined.data);
    if (!set.success) throw new Error(set.reason);
    const xml = render131011(set.data, testMessageInfo('3f2504e0-4f89-41d3-9a0c-0305e82c3199', testStandesamt, testElterngeldstelle));
    const valid = validateAgainstXsd('elterngeldstelle', [xml]);
    expect(valid.output).not.toMatch(/fails to validate/);
    expect(valid.ok).toBe(true);
  });

  it('twins: two notices and two supplements sharing the parents are read and joined into distinct children', () => {
    const mehrling = '<xp:mehrlingsgeburt><xp:anzahlKnaben>1</xp:anzahlKnaben><xp:anzahlMaedchen>1</xp:anzahlMaedchen><xp:anzahlUnbestimmt>0</xp:anzahlUnbestimmt></xp:mehrlingsgeburt>';
    const twin = (i: 0 | 1) => {
      const sex = i === 0 ? 'w' : 'm';
      const zuordnung = `GA-TWIN-${i}`;
      const notice = edit(notice081020(r), (d) => {
        setUuid(d, `ffffffff-ffff-ffff-ffff-fffffffff0a${i}`);
        setText(body(d, 'uhrzeit'), i === 0 ? '10:00' : '10:07');
        setText(body(d, 'kind').getElementsByTagName('code')[0]!, sex);
        withParent2In081020(d);
        d.documentElement!.appendChild(fragment(d, mehrling));
        addZuordnung(d, zuordnung);
      });
      const supplement = edit(supplement081021(r), (d) => {
        setUuid(d, `ffffffff-ffff-ffff-ffff-fffffffff1a${i}`);
        setText(body(d, 'uhrzeit'), i === 0 ? '10:00' : '10:07');
        const kind = body(d, 'kind');
        setText(kind.getElementsByTagName('code')[0]!, sex);
        setText(kind.getElementsByTagNameNS('*', 'vornamen')[0]!.getElementsByTagName('name')[0]!, i === 0 ? 'Mia' : 'Noah');
        withParent2In081021(d, '1990-03-04');
        setText(body(d, 'zuordnungGeburtsanzeige'), zuordnung);
      });
      return { notice, supplement };
    };
    const twins = [twin(0), twin(1)];
    expectSchemaValid(twins.flatMap((t) => [t.notice, t.supplement]));

    const read2 = twins.map((t) => ({ notice: read('081020', t.notice) as BirthNotice, supplement: read('081021', t.supplement) as ParentsSupplement }));
    const joined = read2.map((t, i) => {
      const j = joinBirth(t.notice, t.supplement, keyOf(String(334 + i)));
      if (!j.success) throw new Error(`join refused: ${JSON.stringify(j.error)}`);
      return j.data;
    });
    const [a, b] = joined as [(typeof joined)[0], (typeof joined)[0]];
    expect(a.registerKey.eintragsnummer).toBe('334');
    expect(b.registerKey.eintragsnummer).toBe('335');
    expect([a.child.sex, b.child.sex]).toEqual(['w', 'm']);
    expect([a.child.name?.firstNames, b.child.name?.firstNames]).toEqual([['Mia'], ['Noah']]);
    expect([a.child.birth.time, b.child.birth.time]).toEqual(['10:00', '10:07']);
    expect(a.parent1).toEqual(b.parent1);
    expect(a.parent2).toEqual(b.parent2);
    expect(a.sourceMessageIds).not.toEqual(b.sourceMessageIds);
    // One twin's notice never joins the other twin's supplement.
    const crossed = joinBirth(read2[0]!.notice, read2[1]!.supplement, keyOf('399'));
    expect(crossed.success ? 'joined' : crossed.error.code).toBe('join-mismatch');
  });

  it('a document that starts with a UTF-8 byte-order mark is read', () => {
    const withBom = `\uFEFF${notice081020(r)}`;
    expectSchemaValid([withBom]);
    expect(read('081020', withBom).mother.name.familyName).toBe('Lee');
  });

  it('a birth after the message was created is refused with birth-after-message at the date', () => {
    // The sample was created 2024-11-01T10:00+00:02; a birth on 2024-11-03 cannot have been reported then.
    const future = edit(notice081020(r), (d) => setText(body(d, 'geburtsangaben').getElementsByTagNameNS('*', 'tag')[0]!, '2024-11-03'));
    expectSchemaValid([future]);
    const refused = readBirthMessage(future);
    expect(refused.success).toBe(false);
    if (refused.success) return;
    expect(refused.error.code).toBe('birth-after-message');
    expect(refused.error.path).toBe('/xp:portal2StA.Geburt.081020/xp:geburtsangaben/xp:tag');
  });
});
