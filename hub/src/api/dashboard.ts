// The dashboard: server-rendered HTML for the people of the exchange, German first (English on
// request), progressively enhanced with htmx (served from the npm package), under a strict
// Content-Security-Policy: no inline script or style, no third-party origin. Every view works
// without JavaScript. The same pages for every role, each sees its own part (mutual TLS as
// the API): operators and auditors the whole exchange (auditors without free-text that may
// carry personal data), a Standesamt its own births, an agency its own hand-offs. Every text
// comes from the message catalogue (i18n.ts); times in Europe/Berlin, to the minute.
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { logEntryBytes, parseRegisterKey, type LogEntry } from '../../../contracts/index.ts';
import { ProofUnavailableError, type TransparentLog } from '../log/transparentLog.ts';
import type { EventStore } from '../log/eventStore.ts';
import { fromRecord } from '../log/records.ts';
import { deliveryStream } from '../log/streams.ts';
import { dataOf, inGerman, lookUp } from '../readside/queries.ts';
import { erasedProblem, type ErasureOptions } from './erasure.ts';
import type { ReadSide } from '../readside/readSide.ts';
import { handOffStatus, type CaseRow, type HandOffRow, type StatusContext } from '../readside/status.ts';
import { isAgency, seesAll, type Caller } from './access.ts';
import { dayInBerlin, localeOf, messages, type Locale, type Messages } from './i18n.ts';
import { sendProblem } from './server.ts';
import type { ComponentHealth } from '../../../connectors/kit/lifecycle.ts';

export interface DashboardOptions {
  readonly readSide: ReadSide;
  readonly statusCtx: () => StatusContext;
  readonly htmx: string;
  readonly log: TransparentLog;
  /** The log's entries with case data opened (while the case's key exists): the timelines. */
  readonly events: EventStore;
  readonly cosignedNote: (treeSize: number, note: string) => string;
  readonly certificates: () => readonly { serial: string; subject: string; daysLeft: number; expiresSoon: boolean; revoked: boolean }[];
  /** To tell an erased case's ids (and register key) from unknown ones. */
  readonly erasure?: ErasureOptions;
  /** The hub's running parts: those failing are named in a banner under the header. */
  readonly health?: () => readonly ComponentHealth[];
}

export const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const css = `body{font-family:system-ui,sans-serif;margin:0;color:#111;background:#fff;line-height:1.45}
header{background:#0b3d66;color:#fff;padding:.6rem 1.5rem}header a{color:#fff}main{padding:0 1.5rem 2rem}
.brand{font-weight:bold;font-size:1.2rem;margin:0 0 .3rem}nav ul{list-style:none;padding:0;margin:0 0 .4rem;display:flex;gap:1.2rem;flex-wrap:wrap}
.who{margin:0 0 .4rem}form[role=search] label{display:block;font-weight:bold}form[role=search]{margin:.3rem 0}
h1{font-size:1.5rem;margin:1rem 0 .6rem}h2{font-size:1.2rem;margin-top:1.6rem}
a{color:#0b3d66}table{border-collapse:collapse;margin:.5rem 0 1.2rem}caption{text-align:left;font-style:italic;padding:.2rem 0}
th,td{border:1px solid #666;padding:.3rem .6rem;text-align:left;vertical-align:top}td.n{text-align:right}
.late{background:#fde2e1}.escalated{font-weight:bold}input{font-size:1rem;padding:.3rem}
button{font-size:1rem;padding:.3rem .8rem;background:#fff;color:#0b3d66;border:2px solid #fff;font-weight:bold}main button{background:#0b3d66;color:#fff}
:focus-visible{outline:3px solid #e58e00;outline-offset:2px}pre{white-space:pre-wrap;background:#f3f3f3;padding:.5rem}
.skip{position:absolute;left:-999px;top:0;background:#fff;color:#0b3d66;padding:.5rem}.skip:focus{left:.5rem}
ol.story{padding-left:1.4rem}ol.story li{margin:.35rem 0}.muted{color:#444}dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:bold}dd{margin:0}
code{font-size:.95em}.erased{font-weight:bold}`;

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const enc = encodeURIComponent;

type Scope = { kind: 'all'; auditor: boolean } | { kind: 'standesamt'; nr: string } | { kind: 'agency'; dvdv: string };

/** What of the exchange a caller sees on these pages; none for the other roles. */
export function scopeOf(c: Caller): Scope | undefined {
  if (seesAll(c)) return { kind: 'all', auditor: c.role === 'auditor' };
  if (c.role === 'standesamt' && c.dvdv.startsWith('psw:')) return { kind: 'standesamt', nr: c.dvdv.slice('psw:'.length) };
  if (isAgency(c)) return { kind: 'agency', dvdv: c.dvdv };
  return undefined;
}

const mayCase = (scope: Scope, c: Pick<CaseRow, 'standesamt'>, handOffs: readonly HandOffRow[]) =>
  scope.kind === 'all' || (scope.kind === 'standesamt' && c.standesamt === scope.nr) || (scope.kind === 'agency' && handOffs.some((h) => h.recipient === scope.dvdv));
const mayHandOff = (scope: Scope, h: HandOffRow, c: Pick<CaseRow, 'standesamt'> | undefined) =>
  scope.kind === 'all' || (scope.kind === 'standesamt' && c?.standesamt === scope.nr) || (scope.kind === 'agency' && h.recipient === scope.dvdv);

interface Ctx {
  readonly m: Messages;
  readonly scope: Scope;
  readonly caller: Caller;
  /** The current path, for the language switch. */
  readonly path: string;
  /** Running parts of the hub that failed and have not worked again since. */
  readonly unhealthy: readonly string[];
}

const caseLink = (caseId: string, label: string) => `<a href="/dashboard/cases/${enc(caseId)}">${label}</a>`;
const deliveryLink = (deliveryId: string, label: string) => `<a href="/dashboard/deliveries/${enc(deliveryId)}">${label}</a>`;
/** An office by its name, its DVDV address a link to its page (Standesämter and benefit agencies). */
const officeLink = (dvdv: string, name: string) => `${esc(name)} <a href="/dashboard/offices/${enc(dvdv)}"><code>${esc(dvdv)}</code></a>`;
const entryLink = (id: string, label?: string) => `<a href="/dashboard/entries/${enc(id)}">${label ?? `<code>${esc(id)}</code>`}</a>`;

function whoAmI(x: Ctx): string {
  const { t } = x.m;
  if (x.caller.role === 'hub' || x.caller.role === 'auditor') return t(`role.${x.caller.role}`);
  return t(`role.${x.caller.role}`, { id: x.caller.dvdv });
}

function page(x: Ctx, title: string, body: string, options: { back?: string } = {}): string {
  const { t, locale } = x.m;
  const other: Locale = locale === 'de' ? 'en' : 'de';
  const url = new URL(x.path, 'https://hub.invalid');
  url.searchParams.set('lang', other);
  const href = `${url.pathname}${url.search}`;
  return `<!doctype html>
<html lang="${locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}'>
<title>${title} · ${t('app')}</title><link rel="stylesheet" href="/static/dashboard.css"><script src="/static/htmx.min.js" defer></script></head>
<body><a class="skip" href="#main">${t('skip')}</a>
<header><p class="brand"><a href="/">${t('app')}</a></p>
<nav aria-label="${t('nav.main')}"><ul><li><a href="/">${t('nav.home')}</a></li><li><a href="${esc(href)}" lang="${other}" hreflang="${other}">${other === 'en' ? 'English' : 'Deutsch'}</a></li></ul></nav>
<p class="who">${t('role.seenAs', { who: whoAmI(x) })}</p>
<form action="/dashboard/lookup" method="get" role="search"><label for="search-id">${t('search.label')}</label>
<input id="search-id" name="id" required maxlength="200" size="50" autocomplete="off"> <button type="submit">${t('search.button')}</button></form></header>
${x.unhealthy.length > 0 ? `<p class="unhealthy" role="alert">${t('health.unhealthy', { components: x.unhealthy.join(', ') })}</p>\n` : ''}<main id="main" tabindex="-1">${options.back === undefined ? '' : `<p><a href="${esc(options.back)}" class="back">${options.back === '/' ? t('nav.back') : t('nav.backToCase')}</a></p>`}<h1>${title}</h1>
${body}</main></body></html>`;
}

/** An acknowledged hand-off whose agency has not decided in time: `decision-overdue` or `decision-escalated`. */
const decisionLateKey = (h: HandOffRow): 'decision-overdue' | 'decision-escalated' | undefined =>
  h.outcome !== 'acknowledged' || h.decidedAt !== null ? undefined : h.decisionEscalatedAt ? 'decision-escalated' : h.decisionOverdueAt ? 'decision-overdue' : undefined;

/** The state of a hand-off as a catalogue key. */
function stateKey(h: HandOffRow, ctx: StatusContext): string {
  const s = handOffStatus(h, ctx);
  const late = decisionLateKey(h);
  if (late) return late;
  if (s.state === 'delivered' && s.escalated) return 'escalated';
  if (s.state === 'delivered' && s.overdue) return 'overdue';
  return s.state;
}

function whyOf(m: Messages, h: HandOffRow, ctx: StatusContext): string {
  const s = handOffStatus(h, ctx);
  const name = h.recipientName;
  switch (s.state) {
    case 'acknowledged':
      return m.t('why.acknowledged', { name });
    case 'rejected':
      return m.t('why.rejected', { name, reason: h.reason ?? m.t('why.noReason') });
    case 'dead-letter':
      return m.t('why.dead-letter', { name, reason: h.reason ?? '' });
    case 'scheduled':
      return m.t('why.scheduled');
    default:
      return s.escalated || s.overdue ? m.t('why.deliveredLate', { name, late: m.t(`state.${s.escalated ? 'escalated' : 'overdue'}`) }) : m.t('why.delivered', { name });
  }
}

/** Why a recipient role has no hand-off of this case, and what releases it. */
function heldBackOf(m: Messages, c: CaseRow, role: 'elterngeldstelle' | 'familienkasse', ctx: StatusContext): { key: string; text: string } {
  if (role === 'elterngeldstelle' && c.consentWithdrawnAt) return { key: 'held-back:consent-withdrawn', text: m.t('held.consent-withdrawn') };
  if (role === 'elterngeldstelle' && !c.consent) return { key: 'held-back:no-consent', text: m.t('held.no-consent') };
  if (role === 'familienkasse' && !c.idnrKnown) return { key: 'held-back:no-idnr', text: m.t('held.no-idnr') };
  const reason = ctx.heldBack(c.caseId, role);
  return reason ? { key: 'held-back:certificate', text: m.t('held.certificate', { reason }) } : { key: 'waiting', text: m.t('held.waiting') };
}

/** A milestone's status in words ("Elterngeld bewilligt"). */
const milestoneText = (m: Messages, role: string, status: string): string => m.t(`milestone.${status}`, { benefit: m.t(`benefit.${role}`), defaultValue: status });

interface StoryItem {
  readonly position: number;
  readonly at: string | null;
  readonly html: string;
  readonly entryId?: string;
}

export async function dashboardRoutes(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const store = options.readSide.store;
  const html = (reply: FastifyReply, body: string) => reply.header('content-security-policy', contentSecurityPolicy).type('text/html; charset=utf-8').send(body);
  const hide = { schema: { hide: true } };

  /** The caller's scope and language; a 403 problem for roles without a view. */
  const ctxOf = (request: FastifyRequest, reply: FastifyReply): Ctx | undefined => {
    const q = request.query as { lang?: string } | undefined;
    const locale = localeOf(q?.lang, request.headers.cookie, request.headers['accept-language']);
    if (q?.lang === locale) void reply.header('set-cookie', `lang=${locale}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=31536000`);
    void reply.header('content-language', locale).header('vary', 'accept-language, cookie');
    const scope = scopeOf(request.caller!);
    if (!scope) return undefined;
    return { m: messages(locale), scope, caller: request.caller!, path: request.url, unhealthy: (options.health?.() ?? []).filter((c) => !c.healthy).map((c) => c.component) };
  };
  const guard = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!scopeOf(request.caller!)) await sendProblem(request, reply, 403, 'not allowed for this role', 'the dashboard is for operators, auditors, Standesämter and benefit agencies');
  };
  const notFound = (reply: FastifyReply, x: Ctx, text: string) => html(reply.code(404), page(x, x.m.t('search.result'), `<p>${text}</p>`, { back: '/' }));

  app.get('/static/htmx.min.js', hide, async (_r, reply) => reply.header('cache-control', 'public, max-age=86400').type('text/javascript; charset=utf-8').send(options.htmx));
  app.get('/static/dashboard.css', hide, async (_r, reply) => reply.header('cache-control', 'public, max-age=86400').type('text/css; charset=utf-8').send(css));

  const lateOf = (scope: Scope) =>
    store.handOffsWhere({ lateOnly: true, ...(scope.kind === 'standesamt' ? { standesamt: scope.nr } : scope.kind === 'agency' ? { recipient: scope.dvdv } : {}) }, 50);

  /** The latest milestone the recipient reported for a hand-off, in words. */
  const latestMilestone = (m: Messages, h: HandOffRow): string => {
    const last = store.milestonesOf(h.deliveryId).at(-1);
    return last ? `${milestoneText(m, h.role, last.status)} (${esc(m.time(last.at))})` : m.t('milestone.none');
  };

  function lateTable(x: Ctx): string {
    const { t } = x.m;
    const ctx = options.statusCtx();
    const late = lateOf(x.scope);
    if (late.length === 0) return `<p id="late-none">${t('home.lateNone')}</p>`;
    return `<table id="late"><caption>${t('home.lateCaption')}</caption><thead><tr><th scope="col">${t('col.delivery')}</th><th scope="col">${t('col.recipient')}</th><th scope="col">${t('col.state')}</th><th scope="col">${t('col.why')}</th><th scope="col">${t('col.case')}</th></tr></thead><tbody>
${late
  .map((h) => {
    const key = decisionLateKey(h) ?? (h.escalatedAt ? 'escalated' : 'overdue');
    return `<tr class="late${key.endsWith('escalated') ? ' escalated' : ''}"><td>${deliveryLink(h.deliveryId, `${t(`kind.${h.kind}`)} <code>…${esc(h.deliveryId.slice(-6))}</code>`)}</td><td>${officeLink(h.recipient, h.recipientName)}</td><td>${t(`state.${key}`)}</td><td>${whyOf(x.m, h, ctx)}</td><td>${caseLink(h.caseId, t('search.open'))}</td></tr>`;
  })
  .join('\n')}</tbody></table>`;
  }

  const stateOrder = ['acknowledged', 'delivered', 'scheduled', 'overdue', 'escalated', 'decision-overdue', 'decision-escalated', 'rejected', 'dead-letter', 'held-back:no-consent', 'held-back:consent-withdrawn', 'held-back:no-idnr', 'held-back:certificate', 'waiting'];

  const scopeFilter = (scope: Scope): { standesamt?: string; recipient?: string } => (scope.kind === 'standesamt' ? { standesamt: scope.nr } : scope.kind === 'agency' ? { recipient: scope.dvdv } : {});

  function statesTable(x: Ctx, filter = scopeFilter(x.scope)): string {
    const { t } = x.m;
    const ctx = options.statusCtx();
    const rows = store.statesByRecipient(filter, ctx.relayPosition);
    const roles = (['elterngeldstelle', 'familienkasse'] as const).filter((r) => filter.recipient === undefined || rows.some((row) => row.role === r && row.count > 0));
    const count = (role: string, state: string) => rows.find((r) => r.role === role && r.state === state)?.count ?? 0;
    const states = stateOrder.filter((s) => roles.some((r) => count(r, s) > 0) || ['acknowledged', 'delivered', 'held-back:no-idnr', 'held-back:certificate', 'waiting'].includes(s));
    const total = (role: string) => rows.filter((r) => r.role === role).reduce((a, r) => a + r.count, 0);
    return `<table id="states"><caption>${t('home.statesCaption')}</caption><thead><tr><th scope="col">${t('col.state')}</th>${roles.map((r) => `<th scope="col">${t(`recipientRole.${r}`)}</th>`).join('')}</tr></thead><tbody>
${states.map((s) => `<tr><th scope="row">${t(`state.${s}`)}</th>${roles.map((r) => `<td class="n">${count(r, s)}</td>`).join('')}</tr>`).join('\n')}
<tr><th scope="row">${filter.recipient !== undefined ? t('home.totalAgency') : t('home.total')}</th>${roles.map((r) => `<td class="n" data-total="${r}">${total(r)}</td>`).join('')}</tr></tbody></table>`;
  }

  function birthsTable(x: Ctx): string {
    const { t } = x.m;
    const b = store.births(x.scope.kind === 'standesamt' ? { standesamt: x.scope.nr } : {}, 14);
    const days = new Map<string, { birth: number; registered: number }>();
    const row = (d: string) => days.get(d) ?? days.set(d, { birth: 0, registered: 0 }).get(d)!;
    for (const r of b.byBirth) row(r.day).birth += r.births;
    for (const r of b.byRegisteredHour) row(dayInBerlin(`${r.hour}:00:00Z`)).registered += r.births;
    const sorted = [...days.entries()].sort((a, z) => z[0].localeCompare(a[0])).slice(0, 14);
    if (sorted.length === 0) return `<p>${t('home.noCases')}</p>`;
    return `<table id="births"><caption>${t('home.birthsCaption')}</caption><thead><tr><th scope="col">${t('home.day')}</th><th scope="col">${t('home.byBirth')}</th><th scope="col">${t('home.byRegistration')}</th></tr></thead><tbody>
${sorted.map(([d, v]) => `<tr><th scope="row"><time datetime="${esc(d)}">${esc(x.m.date(d))}</time></th><td class="n">${v.birth}</td><td class="n">${v.registered}</td></tr>`).join('')}</tbody></table>`;
  }

  function recentCases(x: Ctx): string {
    const { t } = x.m;
    const cases = store.casesWhere(x.scope.kind === 'standesamt' ? { standesamt: x.scope.nr } : {}, 20);
    if (cases.length === 0) return `<p>${t('home.noCases')}</p>`;
    return `<table id="cases"><thead><tr><th scope="col">${t('col.registerKey')}</th><th scope="col">${t('col.registered')}</th></tr></thead><tbody>
${cases.map((c) => `<tr><td>${caseLink(c.caseId, esc(c.registerKey))}</td><td>${esc(x.m.time(c.registeredAt))}</td></tr>`).join('')}</tbody></table>`;
  }

  function recentHandOffs(x: Ctx, filter: { recipient: string; standesamt?: string }): string {
    const { t } = x.m;
    const ctx = options.statusCtx();
    const rows = store.handOffsWhere(filter, 20);
    if (rows.length === 0) return `<p>${t('home.none')}</p>`;
    return `<table id="handoffs"><thead><tr><th scope="col">${t('col.delivery')}</th><th scope="col">${t('col.kind')}</th><th scope="col">${t('col.scheduled')}</th><th scope="col">${t('col.state')}</th></tr></thead><tbody>
${rows.map((h) => `<tr><td>${deliveryLink(h.deliveryId, `<code>${esc(h.deliveryId)}</code>`)}</td><td>${t(`kind.${h.kind}`)}</td><td>${esc(x.m.time(h.scheduledAt))}</td><td>${t(`state.${stateKey(h, ctx)}`)}</td></tr>`).join('')}</tbody></table>`;
  }

  app.get('/', { ...hide, preHandler: guard }, async (request, reply) => {
    const x = ctxOf(request, reply)!;
    const { t } = x.m;
    const late = `<section aria-labelledby="late-h"><h2 id="late-h">${t('home.late')}</h2><div hx-get="/dashboard/late" hx-trigger="every 2s" hx-swap="innerHTML">${lateTable(x)}</div></section>`;
    const states = `<section aria-labelledby="state-h"><h2 id="state-h">${x.scope.kind === 'agency' ? t('home.statesAgency') : t('home.states')}</h2>${statesTable(x)}</section>`;
    if (x.scope.kind === 'agency') {
      const body = `${late}${states}<section aria-labelledby="recent-h"><h2 id="recent-h">${t('home.recentHandOffs')}</h2>${recentHandOffs(x, { recipient: x.scope.dvdv })}</section>`;
      return html(reply, page(x, t('home.titleAgency'), body));
    }
    const counts = store.counts();
    const births = `<section aria-labelledby="births-h"><h2 id="births-h">${t('home.births')}</h2>${birthsTable(x)}</section>`;
    const recent = `<section aria-labelledby="recent-h"><h2 id="recent-h">${t('home.recent')}</h2>${recentCases(x)}</section>`;
    if (x.scope.kind === 'standesamt') return html(reply, page(x, t('home.titleStandesamt'), `${late}${states}${births}${recent}`));
    const checkpoint = options.log.latestCheckpoint();
    const certs = options.certificates().filter((c) => c.expiresSoon && !c.revoked);
    const body = `${late}${states.replace('</section>', `<p>${t('home.erasedCases', { count: store.erasedCount() })} ${t('home.deadLetters', { count: counts.deadLetters })}</p></section>`)}${births}${recent}
<section aria-labelledby="cert-h"><h2 id="cert-h">${t('home.certs')}</h2>${certs.length === 0 ? `<p>${t('home.none')}</p>` : `<ul>${certs.map((c) => `<li>${t('home.certDays', { subject: c.subject, serial: c.serial, days: c.daysLeft })}</li>`).join('')}</ul>`}</section>
<section aria-labelledby="cp-h"><h2 id="cp-h">${t('home.checkpoint')}</h2>${checkpoint ? `<pre>${esc(options.cosignedNote(checkpoint.treeSize, checkpoint.note))}</pre>` : `<p>${t('home.noCheckpoint')}</p>`}</section>`;
    return html(reply, page(x, t('home.title'), body));
  });

  app.get('/dashboard/late', { ...hide, preHandler: guard }, async (request, reply) => html(reply, lateTable(ctxOf(request, reply)!)));

  /** The erased page for an id of an erased case, to those who may know it existed. */
  const erasedPage = (request: FastifyRequest, reply: FastifyReply, x: Ctx, id: string): FastifyReply | undefined => {
    const problem = erasedProblem(store, id, request.caller!, options.erasure);
    if (!problem) return undefined;
    const row = store.lookUp(id);
    const key = row ? undefined : parseRegisterKey(id);
    const caseId = row?.caseId ?? (key?.success && options.erasure ? options.erasure.caseStream(key.data) : id);
    const erased = store.erasedCase(caseId);
    const { t } = x.m;
    const text = erased
      ? `${t('case.erased', { at: x.m.time(erased.erasedAt), reason: erased.reason })}${erased.recipients.length ? ` ${t('case.erasedTold', { who: erased.recipients.map((r) => (r.confirmedAt ? t('case.confirmed', { who: r.recipient, at: x.m.time(r.confirmedAt) }) : t('case.notConfirmed', { who: r.recipient }))).join(', ') })}` : ''}`
      : esc(problem.detail ?? '');
    return html(reply.code(410), page(x, t('case.erasedTitle'), `<p class="erased">${text}</p><p>${t('case.erasedProtocol')}</p>`, { back: '/' }));
  };

  // Search: any id; the result names what it is and links to its page.
  app.get<{ Querystring: { id?: string } }>('/dashboard/lookup', { ...hide, preHandler: guard }, async (request, reply) => {
    const x = ctxOf(request, reply)!;
    const { t } = x.m;
    const id = String(request.query.id ?? '').trim().slice(0, 200);
    if (!id) return html(reply, page(x, t('search.title'), `<p>${t('search.enter')}</p>`, { back: '/' }));
    if (options.erasure || store.lookUp(id)?.kind === 'erased') {
      const gone = erasedPage(request, reply, x, id);
      if (gone) return gone;
    }
    const row = store.lookUp(id);
    const answer = row ? lookUp(store, options.statusCtx(), id, x.scope.kind === 'agency' ? (r) => r === (x.scope as { dvdv: string }).dvdv : undefined) : undefined;
    const c = row?.caseId ? store.caseById(row.caseId) : undefined;
    const handOffs = row?.caseId ? store.handOffsOf(row.caseId) : [];
    const h = row?.deliveryId ? store.handOff(row.deliveryId) : undefined;
    const visible = row && answer && (h ? mayHandOff(x.scope, h, c) : c ? mayCase(x.scope, c, handOffs) : x.scope.kind === 'all');
    if (!row || !visible) return notFound(reply, x, t('search.none', { id }));
    const items: string[] = [];
    if (c) items.push(`<li>${t('entry.case')}: ${caseLink(c.caseId, esc(c.registerKey))}</li>`);
    if (h) items.push(`<li>${t('entry.delivery')}: ${deliveryLink(h.deliveryId, `${esc(h.recipientName)} (${t(`kind.${h.kind}`)})`)}</li>`);
    if (row.kind !== 'case' && row.kind !== 'register-key') items.push(`<li>${t('col.entry')}: ${entryLink(row.id, t(`type.${row.type}`, { defaultValue: row.type }))}</li>`);
    const what = row.kind === 'case' || row.kind === 'register-key' ? t('entry.case') : t(`type.${row.type}`, { defaultValue: row.type });
    return html(reply, page(x, t('search.title'), `<section id="lookup-result" aria-labelledby="result-h"><h2 id="result-h">${t('search.result')}: <code>${esc(id)}</code></h2><p>${what}</p><ul>${items.join('')}</ul></section>`, { back: '/' }));
  });

  /** The case's story from the log: its own stream and each visible hand-off's stream. */
  async function storyOf(x: Ctx, c: CaseRow, handOffs: readonly HandOffRow[]): Promise<{ items: StoryItem[]; office: string }> {
    const { t } = x.m;
    const ctx = options.statusCtx();
    const items: StoryItem[] = [];
    const agency = x.scope.kind === 'agency';
    const mine = new Set(handOffs.map((h) => h.deliveryId));
    let registeredBy = officeLink(`psw:${c.standesamt}`, 'Standesamt');
    const named = (h: HandOffRow | undefined, fallback: string) => (h ? officeLink(h.recipient, h.recipientName) : esc(fallback));
    for await (const stored of options.events.readStream(c.caseId)) {
      const e = fromRecord(stored);
      if (!e) continue;
      const office = e.producer.role === 'standesamt' ? officeLink(e.producer.dvdv, e.producer.name) : `${esc(e.producer.name)} <code>${esc(e.producer.dvdv)}</code>`;
      const base = { position: stored.position, at: stored.recordedAt, entryId: e.messageId };
      switch (e.type) {
        case 'BirthRegistered':
          registeredBy = office;
          items.push({ ...base, html: t('event.registered', { office: '\u0000' }).replace('\u0000', office) });
          break;
        case 'BirthRegistrationCorrected':
          if (agency) break;
          items.push({ ...base, html: t('event.corrected', { office: '\u0000', reason: x.scope.kind === 'all' && x.scope.auditor ? t('case.reasonHidden') : e.data.reason }).replace('\u0000', office) });
          break;
        case 'ParentalConsentWithdrawn':
          if (agency) break;
          items.push({ ...base, html: t('event.consentWithdrawn') });
          break;
        case 'ChildIdNrAssigned':
          if (agency) break;
          items.push({ ...base, html: t('event.idnrAssigned', { office: '\u0000' }).replace('\u0000', office) });
          break;
        case 'DeliveryScheduled': {
          const h = handOffs.find((r) => r.deliveryId === e.data.deliveryId);
          if (!mine.has(e.data.deliveryId) || !h) break;
          items.push({ position: stored.position, at: stored.recordedAt, entryId: e.data.deliveryId, html: `${t('event.scheduled', { kind: t(`kind.${h.kind}`), name: '\u0000' }).replace('\u0000', named(h, e.data.recipient.name))}: ${deliveryLink(h.deliveryId, `<code>${esc(h.deliveryId)}</code>`)}` });
          // When it was put into the recipient's queue is not logged; when the recipient stored it, its receipt says.
          if (h.receivedAt) items.push({ position: stored.position + 0.1, at: h.receivedAt, html: t('event.stored', { name: h.recipientName }) });
          else if (handOffStatus(h, ctx).steps.some((s) => s.step === 'delivered')) items.push({ position: stored.position + 0.1, at: null, html: t('event.delivered', { name: h.recipientName }) });
          break;
        }
        default:
          items.push({ ...base, html: t('event.other', { type: t(`type.${e.type}`, { defaultValue: e.type }) }) });
      }
    }
    for (const h of handOffs) {
      for await (const stored of options.events.readStream(deliveryStream(h.deliveryId))) {
        const e = fromRecord(stored);
        if (!e) continue;
        const base = { position: stored.position, at: stored.recordedAt, entryId: e.messageId };
        const name = h.recipientName;
        const what = t(`kindThe.${h.kind}`);
        switch (e.type) {
          case 'DeliveryAcknowledged':
            items.push({ ...base, html: t('event.acknowledged', { name, what }) });
            break;
          case 'DeliveryRejected':
            items.push({ ...base, html: t('event.rejected', { name, what, reason: `${e.data.reasonCode}: ${e.data.reason}` }) });
            break;
          case 'DeliveryDeadLettered':
            items.push({ ...base, html: t('event.deadLettered', { name, attempts: e.data.deliveryAttempts }) });
            break;
          case 'HandOffOverdue':
          case 'HandOffEscalated': {
            // Late for the receipt, or (acknowledged) for the agency's decision.
            const late = `${e.data.step === 'decide' ? 'decision' : ''}${e.type === 'HandOffOverdue' ? 'Overdue' : 'Escalated'}`;
            items.push({ ...base, html: t(`event.${late.charAt(0).toLowerCase()}${late.slice(1)}`, { name, what, benefit: t(`benefit.${h.role}`), due: x.m.time(e.data.dueAt) }) });
            break;
          }
          case 'HandOffMilestone': {
            // What became of the hand-off at the agency (in Bearbeitung, bewilligt, abgelehnt, ausgezahlt).
            const status = milestoneText(x.m, h.role, e.data.status);
            items.push({ ...base, html: e.data.code ? t('event.milestoneCode', { name, kind: t(`kind.${h.kind}`), status, code: e.data.code }) : t('event.milestone', { name, kind: t(`kind.${h.kind}`), status }) });
            break;
          }
          default:
            // Entries the read side learns later appear by their type until the catalogue names them.
            items.push({ ...base, html: `${esc(name)}: ${t('event.other', { type: t(`type.${e.type}`, { defaultValue: e.type }) })}` });
        }
      }
    }
    return { items: items.sort((a, z) => a.position - z.position), office: registeredBy };
  }

  // An office's page: a Standesamt's births, an agency's hand-offs, each within the caller's part.
  app.get<{ Params: { dvdv: string } }>('/dashboard/offices/:dvdv', { ...hide, preHandler: guard }, async (request, reply) => {
    const x = ctxOf(request, reply)!;
    const { t } = x.m;
    const dvdv = request.params.dvdv.slice(0, 100);
    if (dvdv.startsWith('psw:')) {
      const nr = dvdv.slice('psw:'.length);
      if (!(x.scope.kind === 'all' || (x.scope.kind === 'standesamt' && x.scope.nr === nr))) return notFound(reply, x, t('office.notFound'));
      const y = { ...x, scope: { kind: 'standesamt', nr } as Scope };
      const body = `<section aria-labelledby="state-h"><h2 id="state-h">${t('home.states')}</h2>${statesTable(y)}</section>
<section aria-labelledby="births-h"><h2 id="births-h">${t('home.births')}</h2>${birthsTable(y)}</section>
<section aria-labelledby="recent-h"><h2 id="recent-h">${t('home.recent')}</h2>${recentCases(y)}</section>`;
      return html(reply, page(x, t('office.standesamt', { dvdv }), body, { back: '/' }));
    }
    const filter = { recipient: dvdv, ...(x.scope.kind === 'standesamt' ? { standesamt: x.scope.nr } : {}) };
    const rows = store.handOffsWhere(filter, 1);
    if (x.scope.kind === 'agency' ? x.scope.dvdv !== dvdv : rows.length === 0) return notFound(reply, x, t('office.notFound'));
    const name = rows[0]?.recipientName ?? dvdv;
    const body = `<section aria-labelledby="state-h"><h2 id="state-h">${t('home.statesAgency')}</h2>${statesTable(x, filter)}</section>
<section aria-labelledby="recent-h"><h2 id="recent-h">${t('home.recentHandOffs')}</h2>${recentHandOffs(x, filter)}</section>`;
    return html(reply, page(x, t('office.agency', { name, dvdv }), body, { back: '/' }));
  });

  app.get<{ Params: { caseId: string } }>('/dashboard/cases/:caseId', { ...hide, preHandler: guard }, async (request, reply) => {
    const x = ctxOf(request, reply)!;
    const { t } = x.m;
    const caseId = request.params.caseId.slice(0, 200);
    const gone = erasedPage(request, reply, x, caseId);
    if (gone) return gone;
    const c = store.caseById(caseId);
    const all = c ? store.handOffsOf(caseId) : [];
    if (!c || !mayCase(x.scope, c, all)) return notFound(reply, x, t('case.notFound'));
    const handOffs = x.scope.kind === 'agency' ? all.filter((h) => h.recipient === (x.scope as { dvdv: string }).dvdv) : all;
    const ctx = options.statusCtx();
    const { items: story, office } = await storyOf(x, c, handOffs);
    const roles = x.scope.kind === 'agency' ? [...new Set(handOffs.map((h) => h.role))] : (['elterngeldstelle', 'familienkasse'] as const);
    const now: string[] = [];
    for (const role of roles) {
      const mine = handOffs.filter((h) => h.role === role);
      const latest = mine.at(-1);
      if (latest) {
        const s = handOffStatus(latest, ctx);
        now.push(`<tr${s.overdue || s.escalated ? ` class="late${s.escalated ? ' escalated' : ''}"` : ''}><th scope="row">${officeLink(latest.recipient, latest.recipientName)}</th><td>${t(`state.${stateKey(latest, ctx)}`)}</td><td>${whyOf(x.m, latest, ctx)}</td><td>${latestMilestone(x.m, latest)}</td><td>${deliveryLink(latest.deliveryId, `${t(`kind.${latest.kind}`)} <code>…${esc(latest.deliveryId.slice(-6))}</code>`)}</td></tr>`);
      } else {
        const held = heldBackOf(x.m, c, role, ctx);
        now.push(`<tr><th scope="row">${t(`recipientRole.${role}`)}</th><td>${t(`state.${held.key}`)}</td><td>${held.text}</td><td></td><td></td></tr>`);
        story.push({ position: Number.MAX_SAFE_INTEGER, at: null, html: `${t('event.heldBack', { role: t(`recipientRole.${role}`) })}: ${held.text}` });
      }
    }
    const storyHtml = `<ol class="story" aria-labelledby="story-h">${story
      .map((s) => `<li>${s.at ? `<time datetime="${esc(s.at)}">${esc(x.m.time(s.at))}</time>: ` : ''}${s.html}${s.entryId ? ` (${entryLink(s.entryId, t('col.entry'))})` : ''}</li>`)
      .join('\n')}</ol>`;
    const nowTable = `<table id="now"><thead><tr><th scope="col">${t('col.recipient')}</th><th scope="col">${t('col.state')}</th><th scope="col">${t('col.why')}</th><th scope="col">${t('milestone.latest')}</th><th scope="col">${t('col.delivery')}</th></tr></thead><tbody>${now.join('')}</tbody></table>`;
    const body = `<p>${t('case.intro', { at: x.m.time(c.registeredAt), office: '\u0000' }).replace('\u0000', office)}</p>
<section aria-labelledby="now-h"><h2 id="now-h">${t('case.now')}</h2>${nowTable}</section>
<section aria-labelledby="story-h"><h2 id="story-h">${t('case.story')}</h2>${storyHtml}</section>`;
    return html(reply, page(x, t('case.title', { key: c.registerKey }), body, { back: '/' }));
  });

  app.get<{ Params: { deliveryId: string } }>('/dashboard/deliveries/:deliveryId', { ...hide, preHandler: guard }, async (request, reply) => {
    const x = ctxOf(request, reply)!;
    const { t } = x.m;
    const id = request.params.deliveryId.slice(0, 200);
    const gone = erasedPage(request, reply, x, id);
    if (gone) return gone;
    const h = store.handOff(id);
    const c = h ? store.caseById(h.caseId) : undefined;
    if (!h || !mayHandOff(x.scope, h, c)) return notFound(reply, x, t('delivery.notFound'));
    const ctx = options.statusCtx();
    const s = handOffStatus(h, ctx);
    const entries: string[] = [`<li>${entryLink(h.deliveryId, t('type.DeliveryScheduled'))}</li>`];
    for await (const stored of options.events.readStream(deliveryStream(h.deliveryId))) {
      const e = fromRecord(stored);
      if (e) entries.push(`<li><time datetime="${esc(stored.recordedAt)}">${esc(x.m.time(stored.recordedAt))}</time>: ${entryLink(e.messageId, t(`type.${e.type}`, { defaultValue: e.type }))}</li>`);
    }
    const steps = s.steps.map((st) => `<li><time datetime="${esc(st.at)}">${esc(x.m.time(st.at))}</time>: ${t(`state.${st.step === 'delivered' ? 'delivered' : st.step}`)}</li>`).join('');
    const party = s.nextParty === 'hub' ? 'elfe-hub' : s.nextParty === h.recipient ? `${esc(h.recipientName)} <code>${esc(h.recipient)}</code>` : s.nextParty ? `<code>${esc(s.nextParty)}</code>` : '';
    const body = `<dl>
<dt>${t('delivery.recipient')}</dt><dd>${officeLink(h.recipient, h.recipientName)}</dd>
<dt>${t('delivery.kind')}</dt><dd>${t(`kind.${h.kind}`)}</dd>
<dt>${t('entry.case')}</dt><dd>${x.scope.kind === 'agency' || !c ? `<code>${esc(h.caseId)}</code>` : caseLink(h.caseId, esc(c.registerKey))}</dd>
<dt>${t('delivery.scheduledAt')}</dt><dd>${esc(x.m.time(h.scheduledAt))}</dd>
<dt>${t('delivery.state')}</dt><dd>${t(`state.${stateKey(h, ctx)}`)}: ${whyOf(x.m, h, ctx)}</dd>
<dt>${t('milestone.latest')}</dt><dd>${latestMilestone(x.m, h)}</dd>
${party ? `<dt>${t('delivery.next')}</dt><dd>${party}</dd>` : ''}
<dt>${t('delivery.legalBasis')}</dt><dd>${esc(x.m.locale === 'de' ? inGerman(h.legalBasis) : h.legalBasis)}</dd>
<dt>${t('delivery.purpose')}</dt><dd>${esc(x.m.locale === 'de' ? inGerman(h.purpose) : h.purpose)}</dd>
<dt>${t('delivery.data')}</dt><dd>${esc(dataOf[h.dataSet] ?? h.dataSet)}</dd></dl>
<section aria-labelledby="steps-h"><h2 id="steps-h">${t('delivery.steps')}</h2><ol>${steps}</ol></section>
<section aria-labelledby="entries-h"><h2 id="entries-h">${t('delivery.entries')}</h2><ul>${entries.join('')}</ul></section>`;
    return html(reply, page(x, t('delivery.title', { name: h.recipientName }), body, { back: x.scope.kind === 'agency' ? '/' : `/dashboard/cases/${enc(h.caseId)}` }));
  });

  /** A log entry the caller may see, and whether it may see the entry's content (not only its hash). */
  const visibleEntry = (x: Ctx, id: string) => {
    const row = store.lookUp(id);
    if (!row || row.kind === 'erased') return undefined;
    const c = row.caseId ? store.caseById(row.caseId) : undefined;
    const h = row.deliveryId ? store.handOff(row.deliveryId) : undefined;
    const ok = x.scope.kind === 'all' || (h ? mayHandOff(x.scope, h, c) : x.scope.kind === 'standesamt' && c?.standesamt === x.scope.nr);
    if (!ok) return undefined;
    // The entry itself: to the operator, the case's Standesamt and the hand-off's recipient; an auditor gets its hash.
    const content = (x.scope.kind === 'all' && !x.scope.auditor) || x.scope.kind !== 'all';
    return { row, c, h, content };
  };

  app.get<{ Params: { id: string } }>('/dashboard/entries/:id', { ...hide, preHandler: guard }, async (request, reply) => {
    const x = ctxOf(request, reply)!;
    const { t } = x.m;
    const id = request.params.id.slice(0, 200);
    const v = visibleEntry(x, id);
    if (!v) return notFound(reply, x, t('entry.notFound'));
    const { row, c, h } = v;
    let proof = `<p>${t('entry.proofPending')}</p>`;
    let at = '';
    try {
      const p = await options.log.inclusionProof(row.position);
      at = p.entry.recordedAt;
      proof = `<p>${t('entry.proofWords', { position: row.position, size: p.treeSize, hashes: p.path.length })}</p><p><a href="/dashboard/entries/${enc(id)}/proof.json" download="inclusion-proof-${row.position}.json">${t('entry.download')}</a></p>`;
    } catch (error) {
      if (!(error instanceof ProofUnavailableError)) throw error;
    }
    const body = `<dl><dt>${t('entry.what')}</dt><dd>${t(`type.${row.type}`, { defaultValue: row.type })}</dd>
${at ? `<dt>${t('entry.at')}</dt><dd>${esc(x.m.time(at))}</dd>` : ''}
<dt>${t('entry.position')}</dt><dd>${row.position}</dd>
${c && x.scope.kind !== 'agency' ? `<dt>${t('entry.case')}</dt><dd>${caseLink(c.caseId, esc(c.registerKey))}</dd>` : ''}
${h ? `<dt>${t('entry.delivery')}</dt><dd>${deliveryLink(h.deliveryId, `${esc(h.recipientName)} (${t(`kind.${h.kind}`)})`)}</dd>` : ''}</dl>
<section aria-labelledby="proof-h"><h2 id="proof-h">${t('entry.proof')}</h2>${proof}</section>`;
    const back = h ? `/dashboard/deliveries/${enc(h.deliveryId)}` : c && x.scope.kind !== 'agency' ? `/dashboard/cases/${enc(c.caseId)}` : '/';
    return html(reply, page(x, t('entry.title', { id }), body, { back }));
  });

  // The proof as data: the C2SP-style inclusion proof with the leaf's hash; the entry itself
  // only to those who may see its content.
  app.get<{ Params: { id: string } }>('/dashboard/entries/:id/proof.json', { ...hide, preHandler: guard }, async (request, reply) => {
    const x = ctxOf(request, reply)!;
    const v = visibleEntry(x, request.params.id.slice(0, 200));
    if (!v) return sendProblem(request, reply, 404, 'unknown id');
    const p = await options.log.inclusionProof(v.row.position);
    const leafHash = createHash('sha256').update(Buffer.from([0])).update(logEntryBytes(p.entry as unknown as LogEntry)).digest('base64');
    const { entry, ...rest } = p;
    void reply.header('content-disposition', `attachment; filename="inclusion-proof-${v.row.position}.json"`);
    return reply.type('application/json; charset=utf-8').send(JSON.stringify({ ...rest, leafHash, ...(v.content ? { entry } : { entry: { position: entry.position, eventId: entry.eventId, type: entry.type, recordedAt: entry.recordedAt } }) }, null, 2));
  });
}
