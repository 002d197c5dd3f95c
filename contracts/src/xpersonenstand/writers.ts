// Writers: 131011 (Standesamt → Elterngeldstelle, the closed data set of § 25 BEEG) and,
// for test data and demos, the 081020/081021 pair a Standesamt receives.
import type { Address, BirthRegisteredData, Parent, PersonName, PostalAddress } from '../events/birthRegistered.ts';
import type { ElterngeldDataSet } from '../events/dataSets.ts';
import { fail, ok, type Result } from '../result.ts';
import { XmlCodecError } from './errors.ts';
import { namespaces } from './secureParse.ts';
import { el, serialize, textEl, type XmlElement } from './xmlBuilder.ts';

export interface Party {
  readonly dvdv: string;
  readonly name: string;
}

/** The author as the XÖV header requires it: reachable, with a postal address. */
export interface Author extends Party {
  readonly phone: string;
  /** `anschrift.autor`: a building address, `wohnort` required. */
  readonly address: PostalAddress;
}

export interface MessageInfo {
  readonly messageId: string;
  /** `erstellungszeitpunkt`, ISO 8601 with offset. */
  readonly createdAt: string;
  readonly author: Author;
  readonly reader: Party;
  /** Marks the message as test data (`test="test"`). */
  readonly test?: boolean;
  /** `vorgangsidentifikation` (Nachricht.G2GXP): the business event that caused the message. */
  readonly vorgangsidentifikation?: Vorgangsidentifikation;
}

/**
 * `xink:Identifikation.Ereignis` as `Nachricht.G2GXP` carries it in `vorgangsidentifikation`:
 * `ereignis.zeitpunkt` (for G2GXP the message's creation time, with milliseconds and zone) and
 * `ereignis.zeichen`, a reference of the author's making (at most 100 characters, at most 8 of
 * them other than A-Z, a-z, 0-9).
 */
export interface Vorgangsidentifikation {
  readonly zeitpunkt: string;
  readonly zeichen: string;
}

const correctionPrefix = 'Berichtigung-';
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Marks a 131011 as the correction of an earlier one. The 131011 header
 * (`nachrichtenkopf.g2g`) has no element for a reference to an earlier message, and
 * XPersonenstand has no correction message to the Elterngeldstelle; the schema-valid place is
 * G2GXP's `vorgangsidentifikation`, whose `ereignis.zeichen` names the event that caused the
 * message: here `Berichtigung-<nachrichtenUUID of the corrected 131011>` (5 special characters).
 */
export function correctionVorgang(correctedMessageId: string, createdAt: string): Vorgangsidentifikation {
  if (!uuidPattern.test(correctedMessageId)) throw new TypeError('a corrected message is named by its nachrichtenUUID');
  return { zeitpunkt: createdAt, zeichen: `${correctionPrefix}${correctedMessageId.toLowerCase()}` };
}

/** The nachrichtenUUID a correction's `ereignis.zeichen` names, or undefined for any other Vorgang. */
export function correctedMessageOf(zeichen: string): string | undefined {
  const id = zeichen.startsWith(correctionPrefix) ? zeichen.slice(correctionPrefix.length) : '';
  return uuidPattern.test(id) ? id : undefined;
}

/** `Identifikation.Ereignis.Zeichen`: 1 to 100 characters, at most 8 outside A-Z, a-z, 0-9 (umlauts and ß count). */
function vorgangEl(v: Vorgangsidentifikation): XmlElement {
  const specials = [...v.zeichen.replace(/[A-Za-z0-9]/g, '')].length;
  if (v.zeichen.length < 1 || [...v.zeichen].length > 100 || specials > 8) {
    throw new RangeError(`an Ereignis.Zeichen has 1 to 100 characters, at most 8 of them special (${[...v.zeichen].length} characters, ${specials} special)`);
  }
  return el('xp:vorgangsidentifikation', {}, textEl('ereignis.zeitpunkt', v.zeitpunkt), textEl('ereignis.zeichen', v.zeichen));
}

const listUri = {
  nachrichtentyp: 'urn:xoev-de:xpersonenstand:codelist:nachrichtentyp',
  verzeichnisdienst: 'urn:xoev-de:kosit:codeliste:verzeichnisdienst',
  geschlecht: 'urn:xoev-de:xinneres:codeliste:geschlecht',
};

const codeEl = (name: string, code: string, attributes: Record<string, string> = {}) => el(name, attributes, el('code', {}, code));

function party(name: 'leser' | 'autor', p: Party, phone?: string): XmlElement {
  return el(
    name,
    {},
    codeEl('verzeichnisdienst', 'DVDV', { listURI: listUri.verzeichnisdienst, listVersionID: '3' }),
    textEl('kennung', p.dvdv),
    textEl('name', p.name),
    phone !== undefined && el('erreichbarkeit', {}, codeEl('kanal', '03', { listURI: 'urn:de:xoev:codeliste:erreichbarkeit', listVersionID: '1' }), textEl('kennung', phone)),
  );
}

function message(code: string, messageName: string, info: MessageInfo, body: XmlElement[]): string {
  const root = el(
    `xp:${messageName}`,
    {
      'xmlns:xp': namespaces.xpsw2611,
      produkt: 'elfe-hub',
      produkthersteller: 'elfe-hub',
      produktversion: '0.1',
      standard: 'XPersonenstand',
      version: '26.11',
      ...(info.test ? { test: 'test' } : {}),
    },
    el(
      'nachrichtenkopf.g2g',
      {},
      el(
        'identifikation.nachricht',
        {},
        textEl('nachrichtenUUID', info.messageId),
        el('nachrichtentyp', { listURI: listUri.nachrichtentyp, listVersionID: '26.11' }, textEl('code', code), textEl('name', messageName)),
        textEl('erstellungszeitpunkt', info.createdAt),
      ),
      party('leser', info.reader),
      party('autor', info.author, info.author.phone),
    ),
    el('anschrift.autor', {}, anschrift('gebaeude', info.author.address)),
    info.vorgangsidentifikation && vorgangEl(info.vorgangsidentifikation),
    ...body,
  );
  return serialize(root);
}

/**
 * One name part. `PersonName` (parents) requires `familienname` and `vornamen`: an absent
 * part is written `nichtVorhanden`. `PersonName.Veraenderung` (the child) omits it.
 */
const namePart = (name: string, value: string | undefined, required: boolean): XmlElement | undefined =>
  value !== undefined ? el(name, {}, textEl('name', value)) : required ? el(name, {}, textEl('nichtVorhanden', 'true')) : undefined;

const nameParts = (n: PersonName, child = false): XmlElement[] =>
  [
    namePart('xp:familienname', n.familyName, !child),
    n.birthName && !child ? el('xp:geburtsname', {}, textEl('name', n.birthName)) : undefined,
    namePart('xp:vornamen', n.firstNames?.join(' '), !child),
  ].filter((x): x is XmlElement => x !== undefined);

const houseNumber = (address: Address) => (address.houseNumber && /^\d{1,4}$/.test(address.houseNumber) ? address.houseNumber : undefined);

/** `Anschrift.Inland` (elements unqualified, in schema order). */
function anschrift(name: string, a: Address): XmlElement {
  return el(name, {}, textEl('hausnummer', houseNumber(a)), textEl('postleitzahl', a.postcode), textEl('strasse', a.street), textEl('wohnort', a.city));
}

function geburtsangaben(data: BirthRegisteredData): XmlElement {
  const place = data.child.placeOfBirth;
  return el(
    'xp:geburtsangaben',
    {},
    el('xp:ort', {}, textEl('xp:strasse', place.street), textEl('xp:hausnummer', place.houseNumber), textEl('xp:ort', place.city)),
    textEl('xp:tag', data.child.birth.date),
    textEl('xp:uhrzeit', data.child.birth.time?.slice(0, 5)),
  );
}

/**
 * `stA2EGS.Geburt.131011`: exactly the closed data set of § 25 BEEG (child's date and place
 * of birth, birth name and first names, both parents' names) plus the `auftragsnummer`. A
 * correction carries `vorgangsidentifikation` from `correctionVorgang` (the corrected
 * 131011's nachrichtenUUID); a first notification carries none.
 */
export function render131011(dataSet: ElterngeldDataSet, info: MessageInfo & { readonly standesamtName?: string }): string {
  const key = dataSet.registerKey;
  const personName = (name: string, n: PersonName) => el(`xp:${name}`, {}, ...nameParts(n));
  return message('131011', 'stA2EGS.Geburt.131011', info, [
    el(
      'xp:geburtseintragKind',
      {},
      el('xp:behoerdenname', {}, textEl('xp:behoerdeFunktion', 'Standesamt'), textEl('xp:behoerdeName', info.standesamtName ?? info.author.name)),
      el('xp:standesamtsnummer', {}, el('xp:code', { listVersionID: '2023-01-05' }, textEl('code', key.standesamtsnummer))),
      codeEl('xp:registerart', key.registerart),
      textEl('xp:erstbeurkundungsjahr', String(key.jahr)),
      textEl('xp:eintragsnummer', key.eintragsnummer),
    ),
    el('xp:geburtsort', {}, textEl('xp:ort', dataSet.child.placeOfBirth.city)),
    textEl('xp:geburtstag', dataSet.child.birthDate)!,
    // namenKind (`PersonName.Veraenderung`) and geburtsort (`Ereignisort`) take every part as optional.
    el('xp:namenKind', {}, ...nameParts({ ...(dataSet.child.birthName ? { familyName: dataSet.child.birthName } : {}), ...(dataSet.child.firstNames ? { firstNames: dataSet.child.firstNames } : {}) }, true)),
    personName('namenElternteil1', dataSet.parent1),
    dataSet.parent2 ? personName('namenElternteil2', dataSet.parent2) : undefined,
    textEl('xp:auftragsnummer', dataSet.auftragsnummer),
  ].filter((x): x is XmlElement => x !== undefined));
}

const sexEl = (sex: string) => codeEl('xp:geschlecht', sex, { listURI: listUri.geschlecht, listVersionID: '1' });
const germanNationality = el('xp:staatsangehoerigkeit', {}, el('xp:code', { listVersionID: '2024-02-29' }, textEl('code', '000')));

function requireTime(data: BirthRegisteredData): XmlCodecError | undefined {
  return data.child.birth.time ? undefined : new XmlCodecError('missing-element', 'the time of birth is mandatory in 081020/081021', '/xp:geburtsangaben/xp:uhrzeit');
}

/** `portal2StA.Geburt.081020`, the clinic's Geburtsanzeige, for a registration's birth facts. */
export function render081020(
  data: BirthRegisteredData,
  info: MessageInfo & { readonly institution: string; readonly zuordnung: string },
): Result<string, XmlCodecError> {
  const missing = requireTime(data);
  if (missing) return fail(missing);
  const mother = data.parent1;
  if (!mother.birthDate) return fail(new XmlCodecError('missing-element', 'the mother\'s birth date is mandatory in 081020', '/xp:mutter/xp:standard/xp:geburtsdatum'));
  if (!mother.address) return fail(new XmlCodecError('missing-element', 'the mother\'s address is mandatory in 081020', '/xp:mutter/xp:standard/xp:anschrift'));
  return ok(
    message('081020', 'portal2StA.Geburt.081020', info, [
      textEl('xp:nameEinrichtung', info.institution)!,
      geburtsangaben(data),
      el('xp:kind', {}, sexEl(data.child.sex)),
      el('xp:mutter', {}, el('xp:standard', {}, el('xp:namen', {}, ...nameParts(mother.name)), textEl('xp:geburtsdatum', mother.birthDate), anschrift('xp:anschrift', mother.address))),
      textEl('xp:zuordnungGeburtsanzeige', info.zuordnung)!,
    ]),
  );
}

function parentErweitert(name: string, p: Parent, extra: XmlElement[] = []): XmlElement {
  return el(
    `xp:${name}`,
    {},
    el('xp:namen', {}, ...nameParts(p.name)),
    // geburt is optional (0..1); when written, its tag is mandatory.
    p.birthDate ? el('xp:geburt', {}, el('xp:ort', {}, textEl('xp:ort', p.address?.city ?? 'unbekannt')), textEl('xp:tag', p.birthDate)) : undefined,
    sexEl(p.sex ?? 'x'),
    germanNationality,
    p.address ? anschrift('xp:anschrift', p.address) : undefined,
    ...extra,
  );
}

/** `portal2StA.Geburt.081021`, the parents' supplementary data, including consent. */
export function render081021(
  data: BirthRegisteredData,
  info: MessageInfo & { readonly zuordnung: string; readonly parentsEmail: string; readonly zustaendigeElterngeldstelle?: Party },
): Result<string, XmlCodecError> {
  const missing = requireTime(data);
  if (missing) return fail(missing);
  if (!data.child.name) return fail(new XmlCodecError('missing-element', 'the child\'s names are mandatory in 081021', '/xp:kind/xp:namen'));
  const egs = info.zustaendigeElterngeldstelle;
  return ok(
    message('081021', 'portal2StA.Geburt.081021', info, [
      geburtsangaben(data),
      el('xp:kind', {}, sexEl(data.child.sex), el('xp:namen', {}, ...nameParts(data.child.name, true))),
      parentErweitert('mutter', data.parent1),
      data.parent2 ? parentErweitert('elternteil2', data.parent2) : undefined,
      el('xp:kontaktdaten', {}, codeEl('kanal', '01', { listURI: 'urn:de:xoev:codeliste:erreichbarkeit', listVersionID: '1' }), textEl('kennung', info.parentsEmail)),
      el('xp:urkundenbestellung', {}, textEl('xp:anzahlStandardformat', '1')),
      textEl('xp:auftragsnummer', data.consent.auftragsnummer),
      textEl('xp:zuordnungGeburtsanzeige', info.zuordnung),
      data.consent.elterngeldstelle ? textEl('xp:zustimmungElterngeldstelle', 'true') : undefined,
      egs ? el('xp:zustaendigeElterngeldstelle', {}, codeEl('verzeichnisdienst', 'DVDV', { listURI: listUri.verzeichnisdienst, listVersionID: '3' }), textEl('kennung', egs.dvdv), textEl('name', egs.name)) : undefined,
    ].filter((x): x is XmlElement => x !== undefined)),
  );
}
