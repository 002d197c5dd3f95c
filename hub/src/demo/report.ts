// The demo's final block: what happened, in words, with every number explained, and where to
// look next. Plain text for a person; `elfe demo --json` prints the summary itself.
import path from 'node:path';
import type { DemoSummary, KindCounts } from './demo.ts';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** `kept`: the exchange ran on with --keep; `replacedByNext`: the data directory is the default one the next demo replaces. */
export function demoReport(s: DemoSummary, options: { replacedByNext?: boolean } = {}): string[] {
  const c = s.scenario;
  const egs = s.byKind.elterngeldstelle;
  const fka = s.byKind.familienkasse;
  const withIdNr = c.idnr.early + c.idnr.late;
  const total = s.deliveries.elterngeldstelle + s.deliveries.familienkasse;
  const differs = (actual: KindCounts, expected: KindCounts) => (actual.initial !== expected.initial || actual.correction !== expected.correction ? ` (expected ${expected.initial} + ${expected.correction})` : '');
  const ok = s.audit.ok && s.unanswered === 0 && s.rejected === 0 && s.deadLettered === 0;
  const auditCommand = `elfe audit verify --data ${path.join(s.dataDir, 'hub')} --ca ${path.join(s.dataDir, 'ca', 'ca.cert.pem')} --crl ${path.join(s.dataDir, 'ca', 'crl.pem')}`;
  return [
    '',
    `What happened (${ok ? 'all delivered and answered, the log verifies' : 'NOT everything went through: see the lines marked !'})`,
    `  ${plural(s.births, 'birth')} registered by ${plural(c.standesaemter, 'Standesamt', 'Standesämter')}, each signing with its own key (XPersonenstand 081020 + 081021);`,
    `  ${c.withConsent} with the parents' consent and an Elterngeld application number, ${c.withoutConsent} without (those go to no Elterngeldstelle).`,
    `  The Meldebehörde sent the child's IdNr for ${withIdNr}: ${c.idnr.early} at once, ${c.idnr.late} only after the corrections; ${c.idnr.never} got none during the run (their Familienkasse waits for it).`,
    `  ${plural(c.withdrawals, 'withdrawal')} of consent, ${plural(c.corrections, 'correction')} of a first name (${c.correctionsAfterWithdrawal} of them after a withdrawal).`,
    `  ${s.deliveries.elterngeldstelle} deliveries to Elterngeldstellen = ${plural(egs.initial, 'birth')} with consent + ${plural(egs.correction, 'correction')} (not to parents who withdrew)${differs(egs, c.expected.elterngeldstelle)}.`,
    `  ${s.deliveries.familienkasse} deliveries to Familienkassen = ${plural(fka.initial, 'birth')} with an IdNr + ${plural(fka.correction, 'correction')} of births the Familienkasse already had (a late IdNr brings the corrected data in its first delivery)${differs(fka, c.expected.familienkasse)}.`,
    `  ${s.unanswered === 0 ? '' : '! '}Of ${total} deliveries, ${s.acknowledged} were acknowledged by the agency's connector (signed receipt), ${s.rejected} rejected, ${s.deadLettered} dead-lettered, ${s.unanswered} without an answer.`,
    `  From submission to the agency's receipt: median ${s.latencyMs.p50} ms, 99th percentile ${s.latencyMs.p99} ms; ${s.birthsPerSecond.toFixed(1)} births per second from the first submission to the last receipt.`,
    `  ${s.audit.ok ? '' : '! '}Audit: the log's ${s.audit.entries} entries (registrations, IdNrs, withdrawals, corrections, routing decisions, deliveries, receipts) and ${plural(s.audit.checkpoints, 'signed checkpoint')} ${s.audit.ok ? 'verify: nothing was changed, removed or reordered' : `do NOT verify, first bad position ${s.audit.firstBadPosition}: ${s.audit.reason}`}.`,
    '',
    'Where to look next',
    `  inboxes:   ${path.join(s.dataDir, 'parties', 'egs-*', 'inbox')} (Elterngeldstellen), ${path.join(s.dataDir, 'parties', 'fka-*', 'inbox')} (Familienkassen)`,
    `  the audit: ${auditCommand}`,
    '  dashboard: elfe demo --keep (the exchange keeps running until Ctrl-C; its address and the auditor certificate are printed)',
    `  data:      ${s.dataDir}${options.replacedByNext ? ' (the next elfe demo without --data replaces it)' : ''}`,
  ];
}
