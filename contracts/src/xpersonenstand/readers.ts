// Readers for the birth messages a Standesamt receives: 081020 (the clinic's Geburtsanzeige)
// and 081021 (the parents' supplementary data), releases 25.11 and 26.11.
import { z } from 'zod';
import type { Address, PersonName } from '../events/birthRegistered.ts';
import { SexSchema } from '../events/birthRegistered.ts';
import { DvdvAddressSchema } from '../identifiers/registry.ts';
import type { Result } from '../result.ts';
import { fail } from '../result.ts';
import { XmlCodecError } from './errors.ts';
import { guarded, XNode } from './node.ts';
import { defaultLimits, secureParse, type ParseLimits, type Release } from './secureParse.ts';

export const birthMessages = {
  '081020': 'portal2StA.Geburt.081020',
  '081021': 'portal2StA.Geburt.081021',
} as const;
export type BirthMessageCode = keyof typeof birthMessages;

export interface MessageHeader {
  readonly release: Release;
  readonly messageCode: string;
  /** `nachrichtenUUID`, lower case. */
  readonly messageId: string;
  readonly createdAt: string;
  /** The reading office (the Standesamt), as DVDV address. */
  readonly reader: { readonly dvdv: string; readonly name?: string };
  readonly author: { readonly dvdv: string; readonly name?: string };
}

export interface BirthFacts {
  readonly date: string;
  /** `HH:MM`, when known. */
  readonly time?: string;
  readonly place: { readonly city?: string; readonly street?: string; readonly houseNumber?: string; readonly country?: string };
}

export interface ParentFacts {
  readonly name: PersonName;
  readonly birthDate?: string;
  readonly sex?: z.infer<typeof SexSchema>;
  readonly address?: Address;
}

/** 081020: what the clinic knows. The child's names usually come later with 081021. */
export interface BirthNotice {
  readonly kind: '081020';
  readonly header: MessageHeader;
  readonly institution: string;
  readonly birth: BirthFacts;
  readonly child: { readonly sex: z.infer<typeof SexSchema>; readonly name?: PersonName };
  readonly mother: ParentFacts;
  readonly parent2?: ParentFacts;
  readonly zuordnungGeburtsanzeige?: string;
}

/** 081021: what the parents add, including consent to inform the Elterngeldstelle. */
export interface ParentsSupplement {
  readonly kind: '081021';
  readonly header: MessageHeader;
  readonly birth: BirthFacts;
  readonly child: { readonly sex: z.infer<typeof SexSchema>; readonly name?: PersonName };
  readonly mother: ParentFacts;
  readonly parent2?: ParentFacts;
  readonly auftragsnummer?: string;
  readonly zuordnungGeburtsanzeige?: string;
  /** `zustimmungElterngeldstelle`: a true-only flag; absent means no consent. */
  readonly consentElterngeldstelle: boolean;
  readonly zustaendigeElterngeldstelle?: string;
}

export type BirthMessage = BirthNotice | ParentsSupplement;

const messageIdPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const timestamp = z.iso.datetime({ offset: true, local: true });

function party(node: XNode): { dvdv: string; name?: string } {
  const kennung = node.req('kennung', false);
  const dvdv = kennung.value();
  if (!DvdvAddressSchema.safeParse(dvdv).success) kennung.fail('invalid-value', `not a DVDV address: '${dvdv.slice(0, 70)}'`);
  const name = node.optText('name', false);
  return name ? { dvdv, name } : { dvdv };
}

function header(root: XNode, release: Release, expectedCode: string): MessageHeader {
  const kopf = root.req('nachrichtenkopf.g2g', false);
  const ident = kopf.req('identifikation.nachricht', false);
  const uuidNode = ident.req('nachrichtenUUID', false);
  const messageId = uuidNode.value();
  if (!messageIdPattern.test(messageId)) uuidNode.fail('invalid-value', 'nachrichtenUUID is not a UUID');
  const typ = ident.req('nachrichtentyp', false).req('code', false);
  if (typ.value() !== expectedCode) typ.fail('unsupported-message', `nachrichtentyp ${typ.value().slice(0, 20)} does not match the root element`);
  const created = ident.req('erstellungszeitpunkt', false);
  if (!timestamp.safeParse(created.value()).success) created.fail('invalid-date', 'erstellungszeitpunkt is not a date-time');
  return {
    release,
    messageCode: expectedCode,
    messageId: messageId.toLowerCase(),
    createdAt: created.value(),
    reader: party(kopf.req('leser', false)),
    author: party(kopf.req('autor', false)),
  };
}

/**
 * One part of a name (`AllgemeinerName.Personenstandswesen`): an unqualified `<name>`, or
 * `<nichtVorhanden>` when the person has none (read as absent).
 */
function namePart(node: XNode): string | undefined {
  const name = node.child('name', false);
  if (name) return name.name();
  if (node.child('nichtVorhanden', false)) return undefined;
  return node.req('name', false).name();
}

/**
 * `familienname`/`vornamen`/`geburtsname`. In `PersonName` (parents) the first two elements
 * are mandatory; in `PersonName.Veraenderung` (the child) every part is optional.
 */
function personName(node: XNode, allOptional = false): PersonName {
  const part = (name: string, required: boolean) => {
    const found = required ? node.req(name) : node.child(name);
    return found ? namePart(found) : undefined;
  };
  const familyName = part('familienname', !allOptional);
  const firstNames = part('vornamen', !allOptional)?.split(/\s+/).filter(Boolean);
  const birthName = part('geburtsname', false);
  return {
    ...(firstNames && firstNames.length > 0 ? { firstNames } : {}),
    ...(familyName ? { familyName } : {}),
    ...(birthName ? { birthName } : {}),
  };
}

function sex(node: XNode): z.infer<typeof SexSchema> {
  const code = node.req('code', false);
  const parsed = SexSchema.safeParse(code.value());
  return parsed.success ? parsed.data : code.fail('invalid-value', `unknown Geschlecht code '${code.value().slice(0, 10)}'`);
}

/** `Anschrift.Inland`: every element optional. */
function address(node: XNode): Address {
  const cityNode = node.child('wohnort', false);
  const city = cityNode ? cityNode.name() : undefined;
  const street = node.optText('strasse', false);
  const houseNumber = node.optText('hausnummer', false);
  const postcode = node.optText('postleitzahl', false);
  return { ...(city ? { city } : {}), ...(street ? { street } : {}), ...(houseNumber ? { houseNumber } : {}), ...(postcode ? { postcode } : {}) };
}

/**
 * A birth date, which cannot lie after the message that reports it. Birth dates are local;
 * `erstellungszeitpunkt` may carry any offset, so the latest calendar date anywhere on earth
 * at that instant (UTC+14) is the bound. Without an offset it is local: its own date.
 */
function birthDate(node: XNode, createdAt: string): string {
  const date = node.date();
  if (date > latestDateAt(createdAt)) node.fail('birth-after-message', `birth date ${date} is after the message was created (${createdAt.slice(0, 40)})`);
  return date;
}

function latestDateAt(timestamp: string): string {
  if (!/(Z|[+-]\d\d:\d\d)$/i.test(timestamp)) return timestamp.slice(0, 10);
  const instant = Date.parse(timestamp);
  return Number.isNaN(instant) ? timestamp.slice(0, 10) : new Date(instant + 14 * 3_600_000).toISOString().slice(0, 10);
}

function birthFacts(node: XNode, createdAt: string): BirthFacts {
  const ort = node.req('ort');
  const cityNode = ort.child('ort');
  const city = cityNode ? cityNode.name() : undefined;
  const street = ort.optText('strasse');
  const houseNumber = ort.optText('hausnummer');
  const date = birthDate(node.req('tag'), createdAt);
  const timeNode = node.child('uhrzeit');
  let time: string | undefined;
  if (timeNode) {
    const t = timeNode.value();
    if (!/^[0-2][0-9AB]:[0-5][0-9]$/.test(t)) timeNode.fail('invalid-value', `uhrzeit is not HH:MM: '${t.slice(0, 20)}'`);
    // Digits only and a real hour: an exact time. `A`/`B` placeholders mean the time is not known.
    if (/^([01]\d|2[0-3]):[0-5]\d$/.test(t)) time = t;
    else if (/^\d\d:\d\d$/.test(t)) timeNode.fail('invalid-value', `uhrzeit is not a time of day: '${t}'`);
  }
  return { date, ...(time ? { time } : {}), place: { ...(city ? { city } : {}), ...(street ? { street } : {}), ...(houseNumber ? { houseNumber } : {}) } };
}

function childFacts(node: XNode): BirthNotice['child'] {
  const namenNode = node.child('namen');
  const name = namenNode ? personName(namenNode, true) : undefined;
  return { sex: sex(node.req('geschlecht')), ...(name && Object.keys(name).length > 0 ? { name } : {}) };
}

/** A parent as in 081021 (`Anz2StA.Geburt.Elternteil.Erweitert`) or 081020's `elternteil2`. */
function parentFacts(node: XNode, createdAt: string): ParentFacts {
  const name = personName(node.req('namen'));
  const geburt = node.child('geburt');
  const birthDateNode = geburt ? geburt.req('tag') : node.child('geburtsdatum');
  const sexNode = node.child('geschlecht');
  const addressNode = node.child('anschrift');
  return {
    name,
    ...(birthDateNode ? { birthDate: birthDate(birthDateNode, createdAt) } : {}),
    ...(sexNode ? { sex: sex(sexNode) } : {}),
    ...(addressNode ? { address: address(addressNode) } : {}),
  };
}

function readNotice(root: XNode, release: Release): BirthNotice {
  const head = header(root, release, '081020');
  const mutter = root.req('mutter');
  const standard = mutter.child('standard');
  if (!standard) {
    if (mutter.child('vertraulich')) mutter.fail('confidential-birth', 'a vertrauliche Geburt (§ 25 SchKG) is not exchanged');
    mutter.req('standard');
  }
  const s = standard!;
  const mother: ParentFacts = {
    name: personName(s.req('namen')),
    birthDate: birthDate(s.req('geburtsdatum'), head.createdAt),
    sex: 'w',
    address: address(s.req('anschrift')),
  };
  const elternteil2 = root.child('elternteil2');
  const zuordnung = root.optText('zuordnungGeburtsanzeige');
  return {
    kind: '081020',
    header: head,
    institution: root.req('nameEinrichtung').value(),
    birth: birthFacts(root.req('geburtsangaben'), head.createdAt),
    child: childFacts(root.req('kind')),
    mother,
    ...(elternteil2 ? { parent2: parentFacts(elternteil2, head.createdAt) } : {}),
    ...(zuordnung ? { zuordnungGeburtsanzeige: zuordnung } : {}),
  };
}

function readSupplement(root: XNode, release: Release): ParentsSupplement {
  const head = header(root, release, '081021');
  const elternteil2 = root.child('elternteil2');
  const zuordnung = root.optText('zuordnungGeburtsanzeige');
  const auftragsnummer = root.optText('auftragsnummer');
  const consentNode = root.child('zustimmungElterngeldstelle');
  const consent = consentNode?.value();
  if (consent !== undefined && consent !== 'true' && consent !== 'false' && consent !== '1' && consent !== '0') {
    consentNode!.fail('invalid-value', 'zustimmungElterngeldstelle is not a boolean');
  }
  const egs = root.child('zustaendigeElterngeldstelle');
  return {
    kind: '081021',
    header: head,
    birth: birthFacts(root.req('geburtsangaben'), head.createdAt),
    child: childFacts(root.req('kind')),
    mother: { ...parentFacts(root.req('mutter'), head.createdAt) },
    ...(elternteil2 ? { parent2: parentFacts(elternteil2, head.createdAt) } : {}),
    ...(auftragsnummer ? { auftragsnummer } : {}),
    ...(zuordnung ? { zuordnungGeburtsanzeige: zuordnung } : {}),
    consentElterngeldstelle: consent === 'true' || consent === '1',
    ...(egs ? { zustaendigeElterngeldstelle: party(egs).dvdv } : {}),
  };
}

/**
 * Reads a birth message (081020 or 081021) of release 25.11 or 26.11. Anything else, and
 * anything hostile or broken, is refused with a typed error.
 */
export function readBirthMessage(xml: string, limits: ParseLimits = defaultLimits): Result<BirthMessage, XmlCodecError> {
  const parsed = secureParse(xml, limits);
  if (!parsed.success) return parsed;
  const { root, namespace, release, messageName } = parsed.data;
  const rootNode = new XNode(root, `/xp:${messageName}`, namespace);
  if (messageName === birthMessages['081020']) return guarded(() => readNotice(rootNode, release));
  if (messageName === birthMessages['081021']) return guarded(() => readSupplement(rootNode, release));
  return fail(new XmlCodecError('unsupported-message', `message ${messageName.slice(0, 60)} is not a birth message this reader takes`, rootNode.path));
}

/** Reads a message that must be the given birth message. */
export function readBirthMessageOf<K extends BirthMessageCode>(
  code: K,
  xml: string,
  limits: ParseLimits = defaultLimits,
): Result<Extract<BirthMessage, { kind: K }>, XmlCodecError> {
  const read = readBirthMessage(xml, limits);
  if (!read.success) return read;
  if (read.data.kind !== code) {
    return fail(new XmlCodecError('unsupported-message', `expected message ${code}, got ${read.data.kind}`, `/xp:${birthMessages[read.data.kind]}`));
  }
  return read as Result<Extract<BirthMessage, { kind: K }>, XmlCodecError>;
}
