// Sendungsverfolgung: the family's public page. A parent enters the tracking code the
// Standesamt handed over with the birth certificate and sees, in plain German, where the
// hand-offs of the birth stand ("Elterngeldstelle Berlin hat die Geburtsmitteilung erhalten",
// "Familienkasse wartet auf die Steuer-ID des Kindes", "Elterngeld bewilligt"), and can
// download, per hand-off, the C2SP tlog-proof that it is in the exchange's append-only log.
// No client certificate (the only routes without one: `isPublicTrackingRoute`); no names, no
// IdNrs, no register key, no ids; a wrong, unknown or revoked code gets one and the same answer;
// lookups are rate limited per client address. Plain HTML with a GET form: no JavaScript.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatTlogProof, logEntryBytes } from '../../../contracts/index.ts';
import { ProofUnavailableError, type TransparentLog } from '../log/transparentLog.ts';
import type { MilestoneRow } from '../readside/projectionStore.ts';
import type { ReadSide } from '../readside/readSide.ts';
import type { CaseRow, HandOffRow, StatusContext } from '../readside/status.ts';
import { normalizeTrackingCode } from '../tracking/trackingCode.ts';

export const trackingPath = '/sendungsverfolgung';
const proofPath = `${trackingPath}/nachweis`;

/** Whether a route (its pattern) is the family's public page, served without a client certificate. */
export const isPublicTrackingRoute = (route: string | undefined): boolean => route === trackingPath || route === proofPath;

export interface TrackingOptions {
  readonly readSide: ReadSide;
  readonly statusCtx: () => StatusContext;
  readonly log: TransparentLog;
  readonly cosignedNote: (treeSize: number, note: string) => string;
  /** Lookups (with a code) per client address and minute (default 10). */
  readonly lookupsPerMinute?: number;
  readonly now?: () => Date;
}

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const berlin = new Intl.DateTimeFormat('de-DE', { timeZone: 'Europe/Berlin', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit' });
/** `5. Dezember 2026 um 14:05 Uhr`, in Berlin time. */
export const germanTime = (iso: string): string => `${berlin.format(new Date(iso)).replace(/, /, ' um ')} Uhr`;

const benefitOf = (role: HandOffRow['role']) => (role === 'elterngeldstelle' ? 'Elterngeld' : 'Kindergeld');
const officeOf = (role: HandOffRow['role']) => (role === 'elterngeldstelle' ? 'Elterngeldstelle' : 'Familienkasse');

interface Line {
  readonly text: string;
  readonly at?: string;
}

const milestoneText = (m: MilestoneRow, role: HandOffRow['role']): string => {
  const benefit = benefitOf(role);
  switch (m.status) {
    case 'in-bearbeitung':
      return `${benefit}: der Antrag ist in Bearbeitung`;
    case 'bewilligt':
      return `${benefit} bewilligt`;
    case 'abgelehnt':
      return `${benefit} abgelehnt – die Einzelheiten stehen im Bescheid`;
    case 'ausgezahlt':
      return `${benefit} ausgezahlt`;
  }
};

/** The story of one recipient's hand-offs, oldest first; the last line is where it stands. */
function handOffLines(handOffs: readonly HandOffRow[], milestones: (deliveryId: string) => MilestoneRow[]): Line[] {
  const lines: (Line & { sort: string })[] = [];
  for (const h of handOffs) {
    const name = h.recipientName;
    const what = h.kind === 'correction' ? 'die Berichtigung der Geburtsmitteilung' : 'die Geburtsmitteilung';
    lines.push({ text: `${h.kind === 'correction' ? 'Berichtigung der Geburtsmitteilung' : 'Geburtsmitteilung'} an ${name} abgeschickt`, at: h.scheduledAt, sort: h.scheduledAt });
    // Received: when the agency's connector stored it, as its signed receipt says.
    if (h.outcome === 'acknowledged' && h.answeredAt) lines.push({ text: `${name} hat ${what} erhalten`, at: h.receivedAt ?? h.answeredAt, sort: h.answeredAt });
    else if (h.outcome === 'rejected' && h.answeredAt) lines.push({ text: `${name} hat ${what} nicht angenommen; das Standesamt klärt das`, at: h.answeredAt, sort: h.answeredAt });
    else if (h.outcome === 'dead-letter' && h.answeredAt) lines.push({ text: `${what[0]!.toUpperCase()}${what.slice(1)} konnte ${name} nicht zugestellt werden; der Betrieb des Austauschs klärt das`, at: h.answeredAt, sort: h.answeredAt });
    for (const m of milestones(h.deliveryId)) lines.push({ text: milestoneText(m, h.role), at: m.reportedAt, sort: m.reportedAt });
  }
  lines.sort((a, b) => a.sort.localeCompare(b.sort));
  const last = handOffs[handOffs.length - 1];
  if (last && last.outcome === null) lines.push({ text: `Die Empfangsbestätigung von ${last.recipientName} steht noch aus`, sort: '~' });
  return lines;
}

/** Where a role stands that has no hand-off (yet). */
function waitingLine(c: CaseRow, role: HandOffRow['role'], heldBack: string | undefined): string {
  const office = officeOf(role);
  if (role === 'elterngeldstelle' && c.consentWithdrawnAt) return 'Keine Mitteilung an die Elterngeldstelle: die Einwilligung wurde widerrufen';
  if (role === 'elterngeldstelle' && !c.consent) return 'Keine Mitteilung an die Elterngeldstelle: es liegt keine Einwilligung mit Antragsnummer vor. Beantragen Sie Elterngeld direkt bei Ihrer Elterngeldstelle';
  if (role === 'familienkasse' && !c.idnrKnown) return 'Familienkasse wartet auf die Steuer-ID des Kindes';
  if (heldBack) return `${office}: die Mitteilung wartet beim Austausch und wird automatisch nachgeholt`;
  return `${office}: die Mitteilung wird vorbereitet`;
}

const style = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.5}
header,main,footer{max-width:46rem;margin:0 auto;padding:1rem 1.25rem}
header{border-bottom:4px solid #004b87}
header p{margin:0;font-weight:600;color:#004b87}
h1{font-size:1.6rem;margin:.5rem 0 1rem}
h2{font-size:1.25rem;margin:1.5rem 0 .5rem}
label{display:block;font-weight:600;margin-bottom:.25rem}
input[type=text]{font-size:1.1rem;padding:.5rem;border:2px solid #3a3a3a;border-radius:4px;width:100%;max-width:20rem;letter-spacing:.05em}
button{font-size:1rem;padding:.55rem 1.1rem;margin-top:.5rem;background:#004b87;color:#fff;border:0;border-radius:4px;cursor:pointer}
:focus-visible{outline:3px solid #b35c00;outline-offset:2px}
.stand{background:#eef4fa;border-left:4px solid #004b87;padding:.5rem .75rem}
.hinweis{background:#fdf3e7;border-left:4px solid #b35c00;padding:.5rem .75rem}
ol{padding-left:1.25rem}
li{margin:.25rem 0}
a{color:#00437a}
code{background:#f2f2f2;padding:0 .2rem}
footer{color:#444;font-size:.9rem;border-top:1px solid #ccc;margin-top:2rem}
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escape(title)} – Sendungsverfolgung Geburtsmitteilung</title>
<style>${style}</style>
</head>
<body>
<header><p>Elterngeld und Kindergeld nach der Geburt</p></header>
<main>
${body}
</main>
<footer><p>Diese Seite zeigt nur, wo die Mitteilungen des Standesamts an Elterngeldstelle und Familienkasse stehen. Sie enthält keine Namen und keine Identifikationsnummern. Fragen zu Ihrem Antrag beantwortet die jeweilige Stelle.</p></footer>
</body>
</html>
`;
}

const form = `<form method="get" action="${trackingPath}">
<label for="code">Ihr Sendungscode</label>
<p id="code-hilfe">Sie finden ihn auf dem Blatt, das Ihnen das Standesamt mit der Geburtsurkunde gegeben hat, z.&nbsp;B. <code>K7QM-2XWP-9HDA-R4TC</code>.</p>
<input type="text" id="code" name="code" autocomplete="off" spellcheck="false" aria-describedby="code-hilfe" maxlength="40" required>
<div><button type="submit">Stand anzeigen</button></div>
</form>`;

const startPage = () => page('Sendungsverfolgung', `<h1>Wo steht die Geburtsmitteilung?</h1>
<p>Nach der Beurkundung der Geburt teilt das Standesamt sie – mit Ihrer Einwilligung – der Elterngeldstelle und der Familienkasse mit. Hier sehen Sie, wie weit das ist.</p>
${form}`);

/** One answer for a wrong, unknown and revoked code: it does not tell which. */
const unknownPage = () => page('Kein Ergebnis', `<h1>Wo steht die Geburtsmitteilung?</h1>
<p class="hinweis" role="status">Zu diesem Code ist keine Geburtsmitteilung bekannt. Bitte prüfen Sie die Eingabe. Hat das Standesamt Ihnen einen neuen Code gegeben, gilt nur der neue.</p>
${form}`);

const limitedPage = () => page('Zu viele Abfragen', `<h1>Bitte warten Sie einen Moment</h1>
<p class="hinweis" role="status">Von Ihrem Anschluss kamen in kurzer Zeit zu viele Abfragen. Versuchen Sie es in einer Minute noch einmal.</p>
${form}`);

function casePage(code: string, c: CaseRow, handOffs: readonly HandOffRow[], milestones: (deliveryId: string) => MilestoneRow[], heldBack: (role: string) => string | undefined): string {
  const sections: string[] = [];
  let proofNumber = 0;
  const proofLinks: string[] = [];
  for (const role of ['elterngeldstelle', 'familienkasse'] as const) {
    const mine = handOffs.filter((h) => h.role === role);
    const heading = mine[mine.length - 1]?.recipientName ?? officeOf(role);
    if (mine.length === 0) {
      sections.push(`<section aria-labelledby="h-${role}"><h2 id="h-${role}">${escape(heading)}</h2><p class="stand"><strong>Aktueller Stand:</strong> ${escape(waitingLine(c, role, heldBack(role)))}.</p></section>`);
      continue;
    }
    const lines = handOffLines(mine, milestones);
    const current = lines[lines.length - 1]!;
    const items = lines.map((l) => `<li>${escape(l.text)}${l.at ? ` (am ${escape(germanTime(l.at))})` : ''}</li>`).join('\n');
    sections.push(`<section aria-labelledby="h-${role}"><h2 id="h-${role}">${escape(heading)}</h2>
<p class="stand"><strong>Aktueller Stand:</strong> ${escape(current.text)}${current.at ? ` (am ${escape(germanTime(current.at))})` : ''}.</p>
<ol>
${items}
</ol></section>`);
    for (const h of mine) {
      proofNumber++;
      proofLinks.push(`<li><a href="${proofPath}?code=${encodeURIComponent(code)}&amp;nr=${proofNumber}" download="sendungsnachweis-${proofNumber}.tlog-proof">Nachweis ${proofNumber} herunterladen</a>: ${h.kind === 'correction' ? 'Berichtigung' : 'Geburtsmitteilung'} an ${escape(h.recipientName)}</li>`);
    }
  }
  const proofs =
    proofLinks.length === 0
      ? ''
      : `<section aria-labelledby="h-nachweis"><h2 id="h-nachweis">Nachweis</h2>
<p>Jede Mitteilung ist als Eintrag im Protokoll des Austauschs verzeichnet. Das Protokoll ist öffentlich prüfbar und kann nur ergänzt, nie geändert werden. Für jede Mitteilung können Sie einen Nachweis herunterladen, dass sie darin steht:</p>
<ul>
${proofLinks.join('\n')}
</ul>
<p>So prüfen Sie einen Nachweis: Die Datei folgt dem offenen Format <code>c2sp.org/tlog-proof</code>. Sie enthält den Eintrag (seine Inhalte verschlüsselt), den Prüfpfad durch den Merkle-Baum des Protokolls und einen vom Austausch signierten Prüfpunkt. Wer den öffentlichen Schlüssel des Austauschs hat (beim Betreiber erhältlich), prüft ihn mit <code>elfe audit verify-proof sendungsnachweis-1.tlog-proof --key hub.pub</code> oder einem anderen Prüfprogramm für dieses Format. Ein gültiger Nachweis bestätigt, dass die Mitteilung im Protokoll steht und nachträglich nicht verändert werden kann.</p>
<p>Ein Nachweis ist erst verfügbar, wenn der nächste Prüfpunkt signiert ist (meist nach wenigen Minuten).</p></section>`;
  return page('Stand der Geburtsmitteilung', `<h1>Stand der Geburtsmitteilung</h1>
<p>Sendungscode <strong>${escape(code)}</strong>. Die Geburt wurde am ${escape(germanTime(c.registeredAt))} vom Standesamt an den Austausch gemeldet.</p>
${sections.join('\n')}
${proofs}
<h2>Anderen Code abfragen</h2>
${form}`);
}

/** Lookups per client address in a one-minute window. */
class RateLimit {
  readonly #counts = new Map<string, { window: number; n: number }>();
  constructor(
    readonly perMinute: number,
    readonly now: () => Date,
  ) {}
  /** Counts one lookup; false when the client is over its limit. */
  take(client: string): boolean {
    const window = Math.floor(this.now().getTime() / 60_000);
    if (this.#counts.size > 50_000) for (const [k, v] of this.#counts) if (v.window !== window) this.#counts.delete(k);
    const entry = this.#counts.get(client);
    if (!entry || entry.window !== window) {
      this.#counts.set(client, { window, n: 1 });
      return true;
    }
    entry.n++;
    return entry.n <= this.perMinute;
  }
}

export async function trackingRoutes(app: FastifyInstance, options: TrackingOptions): Promise<void> {
  const store = options.readSide.store;
  const limit = new RateLimit(options.lookupsPerMinute ?? 10, options.now ?? (() => new Date()));
  const html = (reply: FastifyReply, status: number, body: string) =>
    reply
      .code(status)
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
      // The code is in the URL: it goes to no other site.
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8')
      .send(body);

  /** The case of the code in the query, or why there is none (wrong, unknown, revoked: one answer; over the limit). */
  const caseOf = (request: FastifyRequest): { caseId: string; code: string } | 'unknown' | 'limited' | 'no-code' => {
    const raw = (request.query as Record<string, unknown> | undefined)?.['code'];
    if (raw === undefined || raw === '') return 'no-code';
    if (!limit.take(request.ip)) return 'limited';
    const code = typeof raw === 'string' ? normalizeTrackingCode(raw) : undefined;
    const caseId = code ? store.caseOfTrackingCode(code) : undefined;
    return caseId && code && store.caseById(caseId) ? { caseId, code } : 'unknown';
  };
  const refusal = (reply: FastifyReply, why: 'unknown' | 'limited') => (why === 'limited' ? html(reply.header('retry-after', '60'), 429, limitedPage()) : html(reply, 404, unknownPage()));

  app.get(trackingPath, { schema: { hide: true } }, async (request, reply) => {
    const found = caseOf(request);
    if (found === 'no-code') return html(reply, 200, startPage());
    if (typeof found === 'string') return refusal(reply, found);
    const c = store.caseById(found.caseId)!;
    const ctx = options.statusCtx();
    return html(reply, 200, casePage(found.code, c, store.handOffsOf(found.caseId), (id) => store.milestonesOf(id), (role) => ctx.heldBack(found.caseId, role)));
  });

  app.get(proofPath, { schema: { hide: true } }, async (request, reply) => {
    const found = caseOf(request);
    if (found === 'no-code') return reply.redirect(trackingPath, 303);
    if (typeof found === 'string') return refusal(reply, found);
    const handOffs = ['elterngeldstelle', 'familienkasse'].flatMap((role) => store.handOffsOf(found.caseId).filter((h) => h.role === role));
    const nr = Number((request.query as Record<string, unknown>)['nr']);
    const h = Number.isInteger(nr) && nr >= 1 ? handOffs[nr - 1] : undefined;
    if (!h) return html(reply, 404, unknownPage());
    try {
      const proof = await options.log.inclusionProof(h.scheduledPosition);
      const text = formatTlogProof({
        // The leaf's preimage: the entry as the log stores it (the case's data sealed).
        extra: logEntryBytes(proof.entry),
        index: proof.leafIndex,
        path: proof.path.map((p) => Buffer.from(p, 'base64')),
        checkpoint: options.cosignedNote(proof.treeSize, proof.checkpoint),
      });
      return reply
        .code(200)
        .header('referrer-policy', 'no-referrer')
        .header('content-disposition', `attachment; filename="sendungsnachweis-${nr}.tlog-proof"`)
        .type('text/plain; charset=utf-8')
        .send(text);
    } catch (error) {
      if (!(error instanceof ProofUnavailableError)) throw error;
      return html(reply, 404, page('Nachweis noch nicht verfügbar', `<h1>Nachweis noch nicht verfügbar</h1>
<p class="hinweis" role="status">Die Mitteilung steht im Protokoll, der nächste Prüfpunkt ist aber noch nicht signiert. Versuchen Sie es in einigen Minuten noch einmal.</p>
<p><a href="${trackingPath}?code=${encodeURIComponent(found.code)}">Zurück zum Stand</a></p>`));
    }
  });
}
