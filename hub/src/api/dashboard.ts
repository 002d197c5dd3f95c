// The dashboard: server-rendered HTML for operators and auditors, progressively enhanced with
// htmx (served from the npm package), under a strict Content-Security-Policy: no inline script
// or style, no third-party origin. Every view works without JavaScript.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TransparentLog } from '../log/transparentLog.ts';
import { lookUp, statusOfCase } from '../readside/queries.ts';
import { erasedProblem, type ErasureOptions } from './erasure.ts';
import type { ReadSide } from '../readside/readSide.ts';
import type { RecipientStatus, StatusContext } from '../readside/status.ts';
import { seesAll } from './access.ts';
import { sendProblem, summary } from './server.ts';

export interface DashboardOptions {
  readonly readSide: ReadSide;
  readonly statusCtx: () => StatusContext;
  readonly htmx: string;
  readonly log: TransparentLog;
  readonly cosignedNote: (treeSize: number, note: string) => string;
  readonly certificates: () => readonly { serial: string; subject: string; daysLeft: number; expiresSoon: boolean; revoked: boolean }[];
  /** To tell an erased case's ids (and register key) from unknown ones. */
  readonly erasure?: ErasureOptions;
}

export const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const css = `body{font-family:system-ui,sans-serif;margin:0;color:#111;background:#fff;line-height:1.4}
header,main{padding:0 1.5rem}header{background:#0b3d66;color:#fff;padding:.8rem 1.5rem}h1{font-size:1.4rem;margin:0}
a{color:#0b3d66}header a{color:#fff}table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #666;padding:.3rem .6rem;text-align:left}
.late{background:#fde2e1}.escalated{font-weight:bold}label{display:block;font-weight:bold}input{font-size:1rem;padding:.3rem}
button{font-size:1rem;padding:.3rem .8rem;background:#0b3d66;color:#fff;border:0}:focus-visible{outline:3px solid #e58e00;outline-offset:2px}
pre{white-space:pre-wrap;background:#f3f3f3;padding:.5rem}`;

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}'>
<title>${esc(title)} · elfe-hub</title><link rel="stylesheet" href="/static/dashboard.css"><script src="/static/htmx.min.js" defer></script></head>
<body><header><h1><a href="/">elfe-hub</a> · ${esc(title)}</h1></header><main>${body}</main></body></html>`;

const lookUpForm = `<form action="/dashboard/lookup" method="get" hx-get="/dashboard/lookup" hx-target="#lookup-result" hx-select="#lookup-result" hx-swap="outerHTML" role="search">
<label for="lookup-id">Look up any id (message, delivery, receipt, case, register key, checkpoint)</label>
<input id="lookup-id" name="id" required maxlength="200" size="50"> <button type="submit">Look up</button></form><div id="lookup-result" aria-live="polite"></div>`;

function lateTable(late: readonly (RecipientStatus & { caseId: string })[]): string {
  if (late.length === 0) return '<p id="late-none">No overdue or escalated hand-offs.</p>';
  return `<table id="late"><caption>Overdue and escalated hand-offs</caption><thead><tr><th scope="col">Case</th><th scope="col">Recipient</th><th scope="col">State</th><th scope="col">Why</th><th scope="col">Next</th></tr></thead><tbody>
${late.map((r) => `<tr class="late${r.escalated ? ' escalated' : ''}"><td><a href="/dashboard/cases/${encodeURIComponent(r.caseId)}">${esc(r.caseId)}</a></td><td>${esc(r.recipientName ?? r.role)}</td><td>${r.escalated ? 'escalated' : 'overdue'}</td><td>${esc(r.why)}</td><td>${esc(r.nextParty ?? '')}</td></tr>`).join('\n')}</tbody></table>`;
}

export async function dashboardRoutes(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const html = (reply: FastifyReply, body: string) => reply.header('content-security-policy', contentSecurityPolicy).type('text/html; charset=utf-8').send(body);
  const operators = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!seesAll(request.caller!)) await sendProblem(request, reply, 403, 'not allowed for this role', 'the dashboard is for operators and auditors');
  };
  const hide = { schema: { hide: true } };

  app.get('/static/htmx.min.js', hide, async (_r, reply) => reply.header('cache-control', 'public, max-age=86400').type('text/javascript; charset=utf-8').send(options.htmx));
  app.get('/static/dashboard.css', hide, async (_r, reply) => reply.header('cache-control', 'public, max-age=86400').type('text/css; charset=utf-8').send(css));

  app.get('/', { ...hide, preHandler: operators }, async (_request, reply) => {
    const s = summary(options.readSide, options.statusCtx());
    const checkpoint = options.log.latestCheckpoint();
    const certs = options.certificates().filter((c) => c.expiresSoon && !c.revoked);
    const body = `${lookUpForm}
<section aria-labelledby="late-h"><h2 id="late-h">Overdue and escalated</h2><div hx-get="/dashboard/late" hx-trigger="every 2s" hx-swap="innerHTML">${lateTable(s.late)}</div></section>
<section aria-labelledby="state-h"><h2 id="state-h">Hand-offs by state</h2><table><thead><tr><th scope="col">State</th><th scope="col">Count</th></tr></thead><tbody>${s.handOffsByState.map((r) => `<tr><td>${esc(r.state)}</td><td>${r.count}</td></tr>`).join('')}</tbody></table>
<p>Cases ${s.counts.cases}, hand-offs ${s.counts.handOffs}, dead letters <strong>${s.counts.deadLetters}</strong>.</p></section>
<section aria-labelledby="births-h"><h2 id="births-h">Births per day</h2><table><thead><tr><th scope="col">Day</th><th scope="col">Births</th></tr></thead><tbody>${s.birthsPerDay.map((r) => `<tr><td>${esc(r.day)}</td><td>${r.births}</td></tr>`).join('')}</tbody></table></section>
<section aria-labelledby="cert-h"><h2 id="cert-h">Certificates expiring within 30 days</h2>${certs.length === 0 ? '<p>None.</p>' : `<ul>${certs.map((c) => `<li>${esc(c.subject)} (${esc(c.serial)}): ${c.daysLeft} days</li>`).join('')}</ul>`}</section>
<section aria-labelledby="cp-h"><h2 id="cp-h">Latest checkpoint and its witnesses</h2>${checkpoint ? `<pre>${esc(options.cosignedNote(checkpoint.treeSize, checkpoint.note))}</pre>` : '<p>No checkpoint yet.</p>'}</section>`;
    return html(reply, page('The exchange at a glance', body));
  });

  app.get('/dashboard/late', { ...hide, preHandler: operators }, async (_request, reply) => html(reply, lateTable(summary(options.readSide, options.statusCtx()).late)));

  app.get<{ Querystring: { id?: string } }>('/dashboard/lookup', { ...hide, preHandler: operators }, async (request, reply) => {
    const id = String(request.query.id ?? '').slice(0, 200);
    const erased = id ? erasedProblem(options.readSide.store, id, request.caller!, options.erasure) : undefined;
    const answer = id && !erased ? lookUp(options.readSide.store, options.statusCtx(), id) : undefined;
    const result = erased
      ? `<div id="lookup-result" aria-live="polite"><h2>${esc(id)}</h2><p class="erased">Erased: ${esc(erased.detail ?? '')}</p></div>`
      : answer
      ? `<div id="lookup-result" aria-live="polite"><h2>${esc(answer.id)}</h2><dl><dt>What</dt><dd>${esc(answer.what)}</dd><dt>Where it stands</dt><dd>${esc(answer.where)}</dd></dl><ul>${answer.links.map((l) => `<li><a href="${esc(l.rel === 'case' && answer.caseId ? `/dashboard/cases/${encodeURIComponent(answer.caseId)}` : l.href)}">${esc(l.rel)}</a></li>`).join('')}</ul></div>`
      : `<div id="lookup-result" aria-live="polite"><p>${id ? `No entry is known by the id ${esc(id)}.` : 'Enter an id.'}</p></div>`;
    return html(reply, page('Look-up', `${lookUpForm.replace('<div id="lookup-result" aria-live="polite"></div>', '')}${result}`));
  });

  app.get<{ Params: { caseId: string } }>('/dashboard/cases/:caseId', { ...hide, preHandler: operators }, async (request, reply) => {
    const erased = erasedProblem(options.readSide.store, request.params.caseId.slice(0, 200), request.caller!, options.erasure);
    if (erased) return html(reply.code(410), page('Erased case', `<p class="erased">Erased: ${esc(erased.detail ?? '')}. What the § 9 IDNrG protocol keeps of its hand-offs is in the Datenschutzcockpit's answer.</p>`));
    const status = statusOfCase(options.readSide.store, options.statusCtx(), request.params.caseId.slice(0, 200));
    if (!status) return sendProblem(request, reply, 404, 'no such case');
    const rows = status.recipients
      .map((r) => `<section><h2>${esc(r.recipientName ?? r.role)}: ${esc(r.state)}${r.escalated ? ' (escalated)' : r.overdue ? ' (overdue)' : ''}</h2><p>${esc(r.why)}${r.nextParty ? `; next: ${esc(r.nextParty)}` : ''}</p>
<ol>${r.steps.map((s) => `<li><time datetime="${esc(s.at)}">${esc(s.at)}</time>: ${esc(s.step)}</li>`).join('')}</ol></section>`)
      .join('');
    return html(reply, page(`Case ${status.registerKey}`, `<p>Registered ${esc(status.registeredAt)} by Standesamt ${esc(status.standesamt)}${status.erased ? '; erased' : ''}.</p>${rows}`));
  });
}
