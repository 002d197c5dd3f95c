// The routing table and the responsible Meldebehörden as the operator reads them: for every
// Standesamt the hub knows, which Elterngeldstelle, Familienkasse and Meldebehörde its births
// go to and by which rule, and what is wrong with the table (overlapping rules, Standesämter no
// rule covers, agencies nobody routes to). Errors stop the hub at start (the configuration is
// refused); warnings are logged and shown by `elfe routing show`. Pure data and functions.
import { responsibleMeldebehoerde, standesamtRule, type MeldebehoerdeTable, type RoutingRule, type RoutingTable } from './routingTable.ts';

export interface RoutingProblem {
  readonly level: 'error' | 'warning';
  /** Where in the configuration, e.g. `routing.rules.2`. */
  readonly path: string;
  readonly message: string;
}

interface StandesamtLike {
  readonly standesamtsnummer: string;
  readonly name: string;
}

export interface RoutingConfigPart {
  readonly routing: RoutingTable;
  readonly meldebehoerden: MeldebehoerdeTable;
  readonly standesaemter: readonly StandesamtLike[];
}

/** The responsible Meldebehörde of a Standesamtsnummer (as the ingress decides it) and which entry decided. */
function meldebehoerdeOf(table: MeldebehoerdeTable, standesamtsnummer: string): { dvdv: string; by: string } | undefined {
  const dvdv = responsibleMeldebehoerde(table, { standesamtsnummer } as unknown as Parameters<typeof responsibleMeldebehoerde>[1]);
  if (dvdv === undefined) return undefined;
  const rule = table.rules.filter((r) => standesamtsnummer.startsWith(r.standesamtPrefix)).sort((a, b) => b.standesamtPrefix.length - a.standesamtPrefix.length)[0];
  return { dvdv, by: rule ? `standesamtPrefix ${rule.standesamtPrefix}` : 'default' };
}

const describeRule = (r: RoutingRule): string =>
  [r.standesamtPrefix !== undefined ? `standesamtPrefix "${r.standesamtPrefix}"` : undefined, r.postcodePrefix !== undefined ? `postcodePrefix "${r.postcodePrefix}"` : undefined].filter(Boolean).join(' and ');

/** Overlaps, gaps and unused entries of the routing and Meldebehörde tables. */
export function routingProblems(config: RoutingConfigPart): RoutingProblem[] {
  const problems: RoutingProblem[] = [];
  const { routing, meldebehoerden } = config;
  // Overlaps: two rules for the same prefix (which one applies would depend on their order).
  for (const key of ['standesamtPrefix', 'postcodePrefix'] as const) {
    const seen = new Map<string, number>();
    routing.rules.forEach((r, i) => {
      const prefix = r[key];
      if (prefix === undefined) return;
      const first = seen.get(prefix);
      if (first === undefined) seen.set(prefix, i);
      else
        problems.push({
          level: 'error',
          path: `routing.rules.${i}`,
          message: `overlap: rules ${first} and ${i} both have ${key} "${prefix}" (${routing.rules[first]!.elterngeldstelle}/${routing.rules[first]!.familienkasse} and ${r.elterngeldstelle}/${r.familienkasse}); keep one`,
        });
    });
  }
  // Gaps: a Standesamt whose births no rule routes.
  const postcodeRules = routing.rules.some((r) => r.postcodePrefix !== undefined);
  config.standesaemter.forEach((s, i) => {
    if (standesamtRule(routing, s.standesamtsnummer) || routing.default) return;
    problems.push(
      postcodeRules
        ? { level: 'warning', path: `standesaemter.${i}`, message: `gap: no standesamtPrefix rule and no default covers Standesamt ${s.standesamtsnummer} (${s.name}); only a postcode rule matching the parents' address routes its births, others go nowhere` }
        : { level: 'error', path: `standesaemter.${i}`, message: `gap: no rule and no default covers Standesamt ${s.standesamtsnummer} (${s.name}): its births would go to no Elterngeldstelle and no Familienkasse; add a rule with standesamtPrefix "${s.standesamtsnummer.slice(0, 2)}" or a default` },
    );
  });
  config.standesaemter.forEach((s, i) => {
    if (meldebehoerdeOf(meldebehoerden, s.standesamtsnummer) !== undefined) return;
    problems.push({ level: 'warning', path: `standesaemter.${i}`, message: `gap: no Meldebehörde is responsible for Standesamt ${s.standesamtsnummer} (${s.name}) (no meldebehoerden rule, no default): its cases get no IdNr and never reach a Familienkasse` });
  });
  // Rules that match no Standesamt the hub knows (a typo, or a Standesamt missing from the list).
  routing.rules.forEach((r, i) => {
    if (r.standesamtPrefix === undefined || config.standesaemter.length === 0) return;
    if (!config.standesaemter.some((s) => s.standesamtsnummer.startsWith(r.standesamtPrefix!))) {
      problems.push({ level: 'warning', path: `routing.rules.${i}`, message: `rule ${i} (${describeRule(r)}) matches none of the Standesämter listed in standesaemter` });
    }
  });
  // Agencies nobody routes to: they receive only what the parents name.
  const routedEgs = new Set([...routing.rules.map((r) => r.elterngeldstelle), ...(routing.default ? [routing.default.elterngeldstelle] : [])]);
  const routedFk = new Set([...routing.rules.map((r) => r.familienkasse), ...(routing.default ? [routing.default.familienkasse] : [])]);
  routing.elterngeldstellen.forEach((a, i) => {
    if (!routedEgs.has(a.dvdv)) problems.push({ level: 'warning', path: `routing.elterngeldstellen.${i}`, message: `${a.dvdv} (${a.name}) is in no rule: it receives only births whose parents name it` });
  });
  routing.familienkassen.forEach((a, i) => {
    if (!routedFk.has(a.dvdv)) problems.push({ level: 'warning', path: `routing.familienkassen.${i}`, message: `${a.dvdv} (${a.name}) is in no rule and not the default: it receives nothing` });
  });
  return problems;
}

/**
 * Addresses the tables name that hold no certificate of the CA (per its signed
 * `issued/holders.json`): deliveries to such an agency are held back until the CA issues one; such
 * a Meldebehörde cannot send an IdNr.
 */
export function certificateProblems(config: RoutingConfigPart, holders: Readonly<Record<string, string>>): RoutingProblem[] {
  const problems: RoutingProblem[] = [];
  const check = (dvdv: string, where: string, consequence: string) => {
    if (holders[dvdv] === undefined && !problems.some((p) => p.message.startsWith(`${dvdv} `))) problems.push({ level: 'warning', path: where, message: `${dvdv} holds no certificate of the CA (not in issued/holders.json): ${consequence}` });
  };
  config.routing.elterngeldstellen.forEach((a, i) => check(a.dvdv, `routing.elterngeldstellen.${i}`, 'its deliveries are held back until the CA issues one'));
  config.routing.familienkassen.forEach((a, i) => check(a.dvdv, `routing.familienkassen.${i}`, 'its deliveries are held back until the CA issues one'));
  config.meldebehoerden.rules.forEach((r, i) => check(r.meldebehoerde, `meldebehoerden.rules.${i}`, 'it cannot send IdNrs'));
  if (config.meldebehoerden.default) check(config.meldebehoerden.default, 'meldebehoerden.default', 'it cannot send IdNrs');
  return problems;
}

export interface AgencyInForce {
  readonly dvdv: string;
  readonly name: string;
  /** Which entry decided: `standesamtPrefix 11`, `default`. */
  readonly by: string;
}

export interface StandesamtRoute {
  readonly standesamtsnummer: string;
  readonly name: string;
  readonly elterngeldstelle?: AgencyInForce;
  readonly familienkasse?: AgencyInForce;
  readonly meldebehoerde?: { readonly dvdv: string; readonly by: string };
}

/** Where each listed Standesamt's births go (before the parents' own choice of Elterngeldstelle and postcode rules). */
export function routesInForce(config: RoutingConfigPart): StandesamtRoute[] {
  const { routing, meldebehoerden } = config;
  const agency = (list: RoutingTable['elterngeldstellen'], dvdv: string, by: string): AgencyInForce | undefined => {
    const found = list.find((a) => a.dvdv === dvdv);
    return found ? { dvdv: found.dvdv, name: found.name, by } : undefined;
  };
  return config.standesaemter.map((s) => {
    const rule = standesamtRule(routing, s.standesamtsnummer);
    const decided = rule ? { egs: rule.elterngeldstelle, fk: rule.familienkasse, by: `standesamtPrefix ${rule.standesamtPrefix}` } : routing.default ? { egs: routing.default.elterngeldstelle, fk: routing.default.familienkasse, by: 'default' } : undefined;
    const mbh = meldebehoerdeOf(meldebehoerden, s.standesamtsnummer);
    const egs = decided ? agency(routing.elterngeldstellen, decided.egs, decided.by) : undefined;
    const fk = decided ? agency(routing.familienkassen, decided.fk, decided.by) : undefined;
    return { standesamtsnummer: s.standesamtsnummer, name: s.name, ...(egs ? { elterngeldstelle: egs } : {}), ...(fk ? { familienkasse: fk } : {}), ...(mbh ? { meldebehoerde: mbh } : {}) };
  });
}

/** The table as text, one Standesamt a line, then the rules and the problems. */
export function routingLines(config: RoutingConfigPart, source: string, extra: readonly RoutingProblem[] = []): string[] {
  const routes = routesInForce(config);
  const problems = [...routingProblems(config), ...extra];
  const cell = (a: { dvdv: string; name?: string; by: string } | undefined) => (a ? `${a.dvdv}${a.name ? ` ${a.name}` : ''} [${a.by}]` : 'NONE');
  const lines = [`routing in force (${source}):`];
  for (const r of routes) {
    lines.push(`  Standesamt ${r.standesamtsnummer} ${r.name}`);
    lines.push(`    Elterngeldstelle ${cell(r.elterngeldstelle)}`);
    lines.push(`    Familienkasse    ${cell(r.familienkasse)}`);
    lines.push(`    Meldebehörde     ${cell(r.meldebehoerde)}`);
  }
  lines.push('rules (longest prefix of the Standesamtsnummer wins, then the first parent\'s postcode, then the default; an Elterngeldstelle the parents name wins when it is listed):');
  config.routing.rules.forEach((r, i) => lines.push(`  ${i}: ${describeRule(r)} -> ${r.elterngeldstelle}, ${r.familienkasse}`));
  lines.push(`  default: ${config.routing.default ? `${config.routing.default.elterngeldstelle}, ${config.routing.default.familienkasse}` : 'none'}`);
  lines.push('Meldebehörden (longest standesamtPrefix wins, then the default):');
  for (const r of config.meldebehoerden.rules) lines.push(`  standesamtPrefix "${r.standesamtPrefix}" -> ${r.meldebehoerde}`);
  lines.push(`  default: ${config.meldebehoerden.default ?? 'none'}`);
  if (problems.length === 0) lines.push('problems: none');
  for (const p of problems) lines.push(`${p.level}: ${p.path}: ${p.message}`);
  return lines;
}
