// Seeded synthetic birth scenarios for the demo, the end-to-end tests and the benchmark:
// valid IdNrs, DIN 91379 names with umlauts and accents, about two thirds with Elterngeld
// consent, some corrections, some withdrawals, some IdNrs arriving late, a few not at all.
import {
  BirthRegisteredDataSchema,
  deterministicUuid,
  idNrCheckDigit,
  type BirthRegisteredData,
} from '../../../contracts/index.ts';
import type { StandesamtEntry } from '../config/config.ts';

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const girls = ['Mia', 'Zoë', 'Emilia', 'Lönna', 'Hannah', 'Chloé', 'Maëlle', 'Ronja', 'Ayşe', 'Małgorzata', 'Ingrid', 'Élodie', 'Jördis', 'Noémie'];
const boys = ['Jürgen', 'Noah', 'Ştefan', 'Łukasz', 'Matthéo', 'Jonas', 'Björn', 'Çağan', 'Søren', 'Emil', 'Luca', 'Andrés', 'Tomáš', 'Levi'];
const families = ['Müller-Lüdenscheidt', 'Nguyễn', 'Ørsted', 'Çelik', 'Schröder', 'Yılmaz', 'Kowalski', 'Fernández', 'Weiß', 'Dvořák', 'Öztürk', 'Łukasiewicz', 'Hoffmann', 'Jäger', "O'Brien"];
const streets = ['Musterweg', 'Lindenstraße', 'Am Wäldchen', 'Königsallee', 'Gänsemarkt', 'Rue-de-Paris-Straße'];
const clinics: Record<string, { institution: string; street: string; houseNumber: string }> = {
  Berlin: { institution: 'Charité Geburtsmedizin', street: 'Augustenburger Platz', houseNumber: '1' },
  Bremen: { institution: 'Klinikum Bremen-Mitte', street: 'St.-Jürgen-Straße', houseNumber: '1' },
  Hamburg: { institution: 'Asklepios Klinik Altona', street: 'Paul-Ehrlich-Straße', houseNumber: '1' },
};

export interface BirthScenario {
  readonly index: number;
  readonly standesamt: StandesamtEntry;
  readonly registration: BirthRegisteredData;
  readonly institution: string;
  /** Ids of the three registration messages (081020, 081021, BirthRegistered). */
  readonly ids: { readonly notice: string; readonly supplement: string; readonly registered: string };
  readonly childIdNr: string;
  readonly parent1IdNr: string;
  /** When the Meldebehörde reports the IdNrs: with the registration, late (after corrections), or not during the run. */
  readonly idnr: 'early' | 'late' | 'never';
  readonly withdrawal: boolean;
  /** A corrected first name, if the registration gets a correction. */
  readonly correction?: BirthRegisteredData;
}

export interface ScenarioOptions {
  readonly births: number;
  readonly seed: number;
  readonly standesaemter: readonly StandesamtEntry[];
  /** Register year; each run gets its own eintragsnummern from `firstEntry`. */
  readonly year?: number;
  readonly firstEntry?: number;
}

/** IdNrs that satisfy every rule: ten digits where exactly one digit occurs twice, plus the check digit. */
function idnrGenerator(random: () => number): () => string {
  const used = new Set<string>();
  return () => {
    for (;;) {
      const digits = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'];
      for (let i = digits.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [digits[i], digits[j]] = [digits[j]!, digits[i]!];
      }
      const twice = digits[Math.floor(random() * 9)]!;
      digits[9] = twice; // one digit dropped, one doubled
      if (digits[0] === '0') continue;
      const ten = digits.join('');
      const id = `${ten}${idNrCheckDigit(ten)}`;
      if (!used.has(id)) {
        used.add(id);
        return id;
      }
    }
  };
}

export function makeScenarios(options: ScenarioOptions): BirthScenario[] {
  const random = prng(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const idnr = idnrGenerator(random);
  const year = options.year ?? 2026;
  const out: BirthScenario[] = [];
  for (let i = 0; i < options.births; i++) {
    const standesamt = options.standesaemter[i % options.standesaemter.length]!;
    const city = standesamt.address.city;
    const clinic = clinics[city] ?? { institution: `Klinikum ${city}`, street: 'Klinikweg', houseNumber: '1' };
    const sex = random() < 0.5 ? 'w' : 'm';
    const family = pick(families);
    const day = 1 + Math.floor(random() * 20);
    const address = { street: pick(streets), houseNumber: String(1 + Math.floor(random() * 120)), postcode: standesamt.address.postcode, city };
    const consent = random() < 2 / 3;
    const seedId = (what: string) => deterministicUuid('synthetic', String(options.seed), String(i), what);
    const registration = BirthRegisteredDataSchema.parse({
      registerKey: { standesamtsnummer: standesamt.standesamtsnummer, registerart: 'G', jahr: year, eintragsnummer: String((options.firstEntry ?? 1) + i) },
      child: {
        name: { firstNames: random() < 0.3 ? [pick(sex === 'w' ? girls : boys), pick(sex === 'w' ? girls : boys)] : [pick(sex === 'w' ? girls : boys)], familyName: family },
        sex,
        birth: { date: `${year}-11-${String(day).padStart(2, '0')}`, time: `${String(Math.floor(random() * 24)).padStart(2, '0')}:${String(Math.floor(random() * 60)).padStart(2, '0')}`, exact: true },
        placeOfBirth: { city, street: clinic.street, houseNumber: clinic.houseNumber },
      },
      parent1: { name: { firstNames: [pick(girls)], familyName: family, ...(random() < 0.3 ? { birthName: pick(families) } : {}) }, birthDate: `19${85 + Math.floor(random() * 15)}-0${1 + Math.floor(random() * 9)}-1${Math.floor(random() * 9)}`, sex: 'w', address },
      ...(random() < 0.85 ? { parent2: { name: { firstNames: [pick(boys)], familyName: family }, birthDate: `19${83 + Math.floor(random() * 15)}-1${Math.floor(random() * 3)}-0${1 + Math.floor(random() * 9)}`, sex: 'm', address } } : {}),
      consent: consent ? { elterngeldstelle: true, auftragsnummer: `EG-${year}-${String(10000 + i)}` } : { elterngeldstelle: false },
      zuordnungGeburtsanzeige: `GA-${year}-${options.seed}-${i}`,
      sourceMessageIds: [seedId('081020'), seedId('081021')],
    });
    const r = random();
    const idnrTiming = r < 0.7 ? 'early' : r < 0.95 ? 'late' : 'never';
    const corrected = random() < 0.1;
    const withdrawal = consent && random() < 0.08;
    const correction = corrected
      ? BirthRegisteredDataSchema.parse({ ...registration, child: { ...registration.child, name: { ...registration.child.name!, firstNames: [pick(sex === 'w' ? girls : boys)] } } })
      : undefined;
    out.push({
      index: i,
      standesamt,
      registration,
      institution: clinic.institution,
      ids: { notice: seedId('081020'), supplement: seedId('081021'), registered: seedId('registered') },
      childIdNr: idnr(),
      parent1IdNr: idnr(),
      idnr: idnrTiming,
      withdrawal,
      ...(correction ? { correction } : {}),
    });
  }
  return out;
}

export interface ExpectedDelivery {
  readonly birth: number;
  readonly role: 'elterngeldstelle' | 'familienkasse';
  readonly kind: 'initial' | 'correction';
}

/**
 * The deliveries the rules imply, reasoned out directly (not by running the decider). The
 * demo submits in phases: registrations, early IdNrs, withdrawals then corrections, late IdNrs.
 */
export function expectedDeliveries(scenarios: readonly BirthScenario[]): ExpectedDelivery[] {
  const out: ExpectedDelivery[] = [];
  for (const s of scenarios) {
    const consent = s.registration.consent.elterngeldstelle;
    if (consent) out.push({ birth: s.index, role: 'elterngeldstelle', kind: 'initial' });
    if (s.idnr !== 'never') out.push({ birth: s.index, role: 'familienkasse', kind: 'initial' });
    if (s.correction) {
      // The withdrawal comes before the correction: it stops the correction to the Elterngeldstelle.
      if (consent && !s.withdrawal) out.push({ birth: s.index, role: 'elterngeldstelle', kind: 'correction' });
      // Only a Familienkasse that already had the birth gets the correction; a late IdNr brings the corrected data.
      if (s.idnr === 'early') out.push({ birth: s.index, role: 'familienkasse', kind: 'correction' });
    }
  }
  return out;
}
