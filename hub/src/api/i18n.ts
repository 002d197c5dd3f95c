// The dashboard's one message catalogue (i18next): German first, English second. The language
// comes from `?lang=` (the switch on every page, remembered in a cookie), else the cookie,
// else Accept-Language; German when nothing matches. Times are shown in Europe/Berlin, to the
// minute, with the date in German form (05.12.2026, 14:03 Uhr). Interpolated values are
// HTML-escaped by i18next: a translation is safe to put into the page as it is.
import i18next, { type TFunction } from 'i18next';

export type Locale = 'de' | 'en';
export const locales: readonly Locale[] = ['de', 'en'];

const de = {
  app: 'elfe-hub',
  skip: 'Zum Inhalt springen',
  nav: { home: 'Übersicht', back: 'Zurück zur Übersicht', backToCase: 'Zurück zum Geburtsfall', language: 'Sprache', main: 'Hauptnavigation' },
  search: { label: 'Suche nach einer Kennung (Registereintrag, Fall, Übermittlung, Quittung, Protokolleintrag)', button: 'Suchen', enter: 'Bitte eine Kennung eingeben.', none: 'Zu der Kennung {{id}} ist nichts bekannt (oder sie ist Ihnen nicht zugänglich).', title: 'Suche', result: 'Ergebnis', open: 'Öffnen' },
  health: { unhealthy: 'Gestört: {{components}}. Die Vermittlungsstelle versucht es weiter; Einzelheiten unter /api/v1/health und im Protokoll (component.failed).' },
  role: { hub: 'Betrieb der Vermittlungsstelle', auditor: 'Prüfung (ohne personenbezogene Daten)', standesamt: 'Standesamt {{id}}', elterngeldstelle: 'Elterngeldstelle {{id}}', familienkasse: 'Familienkasse {{id}}', seenAs: 'Angemeldet als: {{who}}' },
  recipientRole: { elterngeldstelle: 'Elterngeldstelle', familienkasse: 'Familienkasse' },
  home: {
    title: 'Die Vermittlung auf einen Blick',
    titleStandesamt: 'Ihre Geburtsmeldungen',
    titleAgency: 'Ihre Übermittlungen',
    late: 'Überfällig und eskaliert',
    lateNone: 'Keine überfälligen oder eskalierten Übermittlungen.',
    lateCaption: 'Übermittlungen ohne Quittung nach Fristablauf',
    states: 'Stand je Empfänger',
    statesCaption: 'Jeder Geburtsfall steht je Empfänger in genau einem Zustand',
    statesAgency: 'Ihre Übermittlungen nach Stand',
    total: 'Summe (Geburtsfälle)',
    totalAgency: 'Summe (Geburtsfälle mit Übermittlung an Sie)',
    erasedCases: 'Gelöschte Geburtsfälle (nicht mitgezählt): {{count}}',
    deadLetters: 'Unzustellbar aufgegebene Übermittlungen: {{count}}',
    births: 'Geburten pro Tag',
    birthsCaption: 'Geburten nach Geburtsdatum und nach Tag der Beurkundung (Europe/Berlin)',
    day: 'Tag',
    byBirth: 'nach Geburtsdatum',
    byRegistration: 'nach Beurkundung',
    recent: 'Zuletzt beurkundete Geburten',
    recentHandOffs: 'Zuletzt übermittelt',
    noCases: 'Noch keine Geburtsfälle.',
    certs: 'Zertifikate, die in 30 Tagen ablaufen',
    certDays: '{{subject}} ({{serial}}): noch {{days}} Tage',
    none: 'Keine.',
    checkpoint: 'Letzter Prüfpunkt und seine Zeugen',
    noCheckpoint: 'Noch kein Prüfpunkt.',
  },
  col: { case: 'Geburtsfall', registerKey: 'Registereintrag', recipient: 'Empfänger', state: 'Stand', why: 'Warum', next: 'Als Nächstes', registered: 'Beurkundet', count: 'Anzahl', delivery: 'Übermittlung', kind: 'Art', scheduled: 'Veranlasst', when: 'Zeitpunkt', what: 'Was geschah', entry: 'Protokolleintrag' },
  state: {
    acknowledged: 'quittiert',
    rejected: 'abgelehnt',
    'dead-letter': 'unzustellbar',
    escalated: 'eskaliert',
    overdue: 'überfällig',
    'decision-overdue': 'quittiert, Entscheidung überfällig',
    'decision-escalated': 'quittiert, Entscheidung eskaliert',
    delivered: 'zugestellt, Quittung ausstehend',
    scheduled: 'veranlasst, noch nicht zugestellt',
    'held-back:no-consent': 'zurückgehalten: keine Einwilligung',
    'held-back:consent-withdrawn': 'zurückgehalten: Einwilligung widerrufen',
    'held-back:no-idnr': 'wartet auf die Steuer-ID',
    'held-back:certificate': 'zurückgehalten: Zertifikat des Empfängers nicht nutzbar',
    waiting: 'wartet auf die Weiterleitung',
    'held-back': 'zurückgehalten',
    registered: 'beurkundet',
  },
  kind: { initial: 'Erstmitteilung', correction: 'Berichtigung' },
  kindThe: { initial: 'die Erstmitteilung', correction: 'die Berichtigung' },
  benefit: { elterngeldstelle: 'Elterngeld', familienkasse: 'Kindergeld' },
  milestone: { 'in-bearbeitung': 'in Bearbeitung', bewilligt: '{{benefit}} bewilligt', abgelehnt: '{{benefit}} abgelehnt', ausgezahlt: '{{benefit}} ausgezahlt', latest: 'Bearbeitungsstand', none: 'noch keine Meldung' },
  held: {
    erased: 'Die personenbezogenen Daten dieses Falls wurden gelöscht.',
    'consent-withdrawn': 'Die Eltern haben ihre Einwilligung widerrufen; nach dem Widerruf geht nichts mehr an die Elterngeldstelle. Freigabe: nur durch eine neue Einwilligung (Berichtigung des Eintrags durch das Standesamt).',
    'no-consent': 'Die Eltern haben keiner Mitteilung an die Elterngeldstelle zugestimmt (oder es fehlt die Antragsnummer). Freigabe: Berichtigung mit Einwilligung durch das Standesamt.',
    'no-idnr': 'Die Familienkasse braucht die Steuer-ID des Kindes und des berechtigten Elternteils. Freigabe: sobald die Meldebehörde die Steuer-ID mitteilt.',
    certificate: 'Das Zertifikat des Empfängers ist nicht nutzbar ({{reason}}). Freigabe: sobald die Zertifizierungsstelle ein gültiges Zertifikat ausstellt.',
    waiting: 'Noch nicht weitergeleitet; die Vermittlungsstelle entscheidet gleich über den Empfänger.',
  },
  why: {
    acknowledged: '{{name}} hat den Empfang mit einer signierten Quittung bestätigt.',
    rejected: '{{name}} hat die Übermittlung abgelehnt ({{reason}}).',
    'dead-letter': 'Die Vermittlungsstelle hat aufgegeben: {{reason}}; {{name}} hat sie nicht abgeholt.',
    scheduled: 'Weiterleitung entschieden; noch nicht in der Warteschlange des Empfängers.',
    delivered: 'In der Warteschlange von {{name}}; die signierte Quittung steht aus.',
    deliveredLate: 'In der Warteschlange von {{name}}; die signierte Quittung steht aus ({{late}}).',
    noReason: 'ohne Angabe von Gründen',
  },
  case: {
    title: 'Geburtsfall {{key}}',
    intro: 'Beurkundet am {{at}} von {{office}}.',
    story: 'Verlauf',
    storyCaption: 'Was mit diesem Geburtsfall geschah, in zeitlicher Reihenfolge',
    now: 'Stand je Empfänger',
    erasedTitle: 'Gelöschter Geburtsfall',
    erased: 'Dieser Geburtsfall wurde am {{at}} gelöscht; Grund: {{reason}}.',
    erasedTold: 'Benachrichtigt: {{who}}.',
    erasedProtocol: 'Was das Protokoll nach § 9 IDNrG von seinen Übermittlungen behält, steht in der Antwort an das Datenschutzcockpit.',
    confirmed: '{{who}} (bestätigt am {{at}})',
    notConfirmed: '{{who}} (noch nicht bestätigt)',
    notFound: 'Diesen Geburtsfall gibt es nicht, oder er ist Ihnen nicht zugänglich.',
    reasonHidden: '(Freitext, für die Prüfung ausgeblendet)',
  },
  event: {
    registered: 'Geburt beurkundet und gemeldet von {{office}}',
    corrected: 'Eintrag berichtigt von {{office}}; Grund: {{reason}}',
    consentWithdrawn: 'Einwilligung der Eltern in die Mitteilung an die Elterngeldstelle widerrufen',
    idnrAssigned: 'Steuer-ID des Kindes zugeteilt und mitgeteilt von {{office}}',
    idnrCorrected: 'Steuer-ID berichtigt von {{office}}',
    scheduled: '{{kind}} an {{name}} veranlasst',
    delivered: 'In die Warteschlange von {{name}} gestellt',
    stored: 'Bei {{name}} angekommen und gespeichert (Zeitpunkt laut ihrer Quittung)',
    acknowledged: '{{name}} hat den Empfang {{what}} quittiert',
    rejected: '{{name}} hat {{what}} abgelehnt: {{reason}}',
    deadLettered: 'An {{name}} unzustellbar: nach {{attempts}} Versuchen aufgegeben',
    overdue: 'Überfällig: {{name}} hat {{what}} bis {{due}} nicht quittiert',
    escalated: 'Eskaliert: {{name}} hat {{what}} bis {{due}} nicht quittiert',
    decisionOverdue: 'Überfällig: {{name}} hat bis {{due}} nicht über das {{benefit}} entschieden',
    decisionEscalated: 'Eskaliert: {{name}} hat bis {{due}} nicht über das {{benefit}} entschieden',
    heldBack: '{{role}}: zurückgehalten',
    milestone: '{{name}} meldet ({{kind}}): {{status}}',
    milestoneCode: '{{name}} meldet ({{kind}}): {{status}}, Kennzeichen {{code}}',
    erased: 'Geburtsfall gelöscht: {{reason}}',
    other: 'Protokolleintrag {{type}}',
  },
  office: { standesamt: 'Standesamt {{dvdv}}', agency: '{{name}} ({{dvdv}})', notFound: 'Diese Stelle ist nicht bekannt, oder ihre Übersicht ist Ihnen nicht zugänglich.' },
  delivery: {
    title: 'Übermittlung an {{name}}',
    notFound: 'Diese Übermittlung gibt es nicht, oder sie ist Ihnen nicht zugänglich.',
    recipient: 'Empfänger',
    kind: 'Art',
    scheduledAt: 'Veranlasst am',
    state: 'Stand',
    next: 'Als Nächstes am Zug',
    legalBasis: 'Rechtsgrundlage',
    purpose: 'Zweck',
    data: 'Übermittelte Daten',
    steps: 'Schritte',
    entries: 'Protokolleinträge dieser Übermittlung',
  },
  entry: {
    title: 'Protokolleintrag {{id}}',
    notFound: 'Diesen Protokolleintrag gibt es nicht, oder er ist Ihnen nicht zugänglich.',
    what: 'Was',
    at: 'Aufgezeichnet am',
    position: 'Position im Protokoll',
    proof: 'Nachweis der Aufnahme ins Protokoll',
    proofWords: 'Dieser Eintrag steht an Position {{position}} des öffentlichen, nur anfügbaren Protokolls. Der signierte Prüfpunkt über {{size}} Einträge schließt ihn ein: aus dem Eintrag und {{hashes}} Zwischenwerten (Hashes) lässt sich der Wurzelhash des Prüfpunkts nachrechnen. Stimmt er mit dem signierten und von den Zeugen gegengezeichneten Prüfpunkt überein, ist der Eintrag nachweislich im Protokoll und nachträglich nicht mehr veränderbar.',
    proofPending: 'Noch in keinem signierten Prüfpunkt enthalten; der Nachweis steht mit dem nächsten Prüfpunkt bereit.',
    download: 'Nachweis herunterladen (JSON)',
    checkpoint: 'Prüfpunkt',
    case: 'Geburtsfall',
    delivery: 'Übermittlung',
  },
  type: {
    BirthRegistered: 'Geburtsmeldung des Standesamts',
    BirthRegistrationCorrected: 'Berichtigung des Geburtseintrags',
    ParentalConsentWithdrawn: 'Widerruf der Einwilligung',
    ChildIdNrAssigned: 'Mitteilung der Steuer-ID durch die Meldebehörde',
    DeliveryScheduled: 'Veranlasste Übermittlung an eine Leistungsbehörde',
    DeliveryAcknowledged: 'Signierte Empfangsquittung der Leistungsbehörde',
    DeliveryRejected: 'Ablehnung durch die Leistungsbehörde',
    DeliveryDeadLettered: 'Aufgegebene, unzustellbare Übermittlung',
    HandOffOverdue: 'Fristüberschreitung',
    HandOffEscalated: 'Eskalation',
    LogCheckpointSigned: 'Signierter Prüfpunkt des Protokolls',
    CaseErased: 'Löschung des Geburtsfalls',
    ErasureNoticeScheduled: 'Löschmitteilung an einen Empfänger',
    ErasureConfirmed: 'Bestätigung der Löschung',
    SecurityEventRecorded: 'Sicherheitsereignis',
    HandOffMilestone: 'Bearbeitungsstand der Leistungsbehörde',
    TrackingCodeRevoked: 'Widerruf des Sendungsverfolgungscodes',
  },
  time: { suffix: ' Uhr' },
  problem: { forbidden: 'Diese Ansicht ist für Ihre Rolle nicht vorgesehen.' },
};

type Catalogue = typeof de;

const en: Catalogue = {
  app: 'elfe-hub',
  skip: 'Skip to content',
  nav: { home: 'Overview', back: 'Back to the overview', backToCase: 'Back to the birth case', language: 'Language', main: 'Main navigation' },
  search: { label: 'Search for an id (register key, case, delivery, receipt, log entry)', button: 'Search', enter: 'Please enter an id.', none: 'Nothing is known by the id {{id}} (or it is not yours to see).', title: 'Search', result: 'Result', open: 'Open' },
  health: { unhealthy: 'Failing: {{components}}. The hub keeps trying; details at /api/v1/health and in the log (component.failed).' },
  role: { hub: 'Exchange operations', auditor: 'Audit (without personal data)', standesamt: 'Standesamt {{id}}', elterngeldstelle: 'Elterngeldstelle {{id}}', familienkasse: 'Familienkasse {{id}}', seenAs: 'Signed in as: {{who}}' },
  recipientRole: { elterngeldstelle: 'Elterngeldstelle', familienkasse: 'Familienkasse' },
  home: {
    title: 'The exchange at a glance',
    titleStandesamt: 'Your birth registrations',
    titleAgency: 'Your hand-offs',
    late: 'Overdue and escalated',
    lateNone: 'No overdue or escalated hand-offs.',
    lateCaption: 'Hand-offs without a receipt past their deadline',
    states: 'Where the cases stand per recipient',
    statesCaption: 'Every birth case is in exactly one state per recipient',
    statesAgency: 'Your hand-offs by state',
    total: 'Total (birth cases)',
    totalAgency: 'Total (birth cases handed to you)',
    erasedCases: 'Erased birth cases (not counted): {{count}}',
    deadLetters: 'Hand-offs given up as undeliverable: {{count}}',
    births: 'Births per day',
    birthsCaption: 'Births by date of birth and by day of registration (Europe/Berlin)',
    day: 'Day',
    byBirth: 'by date of birth',
    byRegistration: 'by registration',
    recent: 'Latest registered births',
    recentHandOffs: 'Latest hand-offs',
    noCases: 'No birth cases yet.',
    certs: 'Certificates expiring within 30 days',
    certDays: '{{subject}} ({{serial}}): {{days}} days left',
    none: 'None.',
    checkpoint: 'Latest checkpoint and its witnesses',
    noCheckpoint: 'No checkpoint yet.',
  },
  col: { case: 'Birth case', registerKey: 'Register key', recipient: 'Recipient', state: 'State', why: 'Why', next: 'Next', registered: 'Registered', count: 'Count', delivery: 'Hand-off', kind: 'Kind', scheduled: 'Scheduled', when: 'When', what: 'What happened', entry: 'Log entry' },
  state: {
    acknowledged: 'acknowledged',
    rejected: 'rejected',
    'dead-letter': 'undeliverable',
    escalated: 'escalated',
    overdue: 'overdue',
    'decision-overdue': 'acknowledged, decision overdue',
    'decision-escalated': 'acknowledged, decision escalated',
    delivered: 'delivered, receipt outstanding',
    scheduled: 'scheduled, not yet delivered',
    'held-back:no-consent': 'held back: no consent',
    'held-back:consent-withdrawn': 'held back: consent withdrawn',
    'held-back:no-idnr': 'waiting for the tax id',
    'held-back:certificate': "held back: the recipient's certificate is unusable",
    waiting: 'waiting for routing',
    'held-back': 'held back',
    registered: 'registered',
  },
  kind: { initial: 'initial notification', correction: 'correction' },
  kindThe: { initial: 'the initial notification', correction: 'the correction' },
  benefit: { elterngeldstelle: 'Elterngeld', familienkasse: 'Kindergeld' },
  milestone: { 'in-bearbeitung': 'being processed', bewilligt: '{{benefit}} granted', abgelehnt: '{{benefit}} refused', ausgezahlt: '{{benefit}} paid', latest: 'Processing', none: 'nothing reported yet' },
  held: {
    erased: 'The personal data of this case was erased.',
    'consent-withdrawn': 'The parents withdrew their consent; nothing goes to the Elterngeldstelle after the withdrawal. Released only by a new consent (a correction by the Standesamt).',
    'no-consent': 'The parents did not consent to a notification of the Elterngeldstelle (or the application number is missing). Released by a correction with consent by the Standesamt.',
    'no-idnr': "The Familienkasse needs the child's and the entitled parent's tax id. Released as soon as the Meldebehörde reports it.",
    certificate: "The recipient's certificate is unusable ({{reason}}). Released as soon as the CA issues a valid certificate.",
    waiting: 'Not yet routed; the exchange decides on the recipient shortly.',
  },
  why: {
    acknowledged: '{{name}} confirmed receipt with a signed receipt.',
    rejected: '{{name}} rejected the hand-off ({{reason}}).',
    'dead-letter': 'The exchange gave up: {{reason}}; {{name}} did not take it.',
    scheduled: "Routing decided; not yet in the recipient's queue.",
    delivered: "In {{name}}'s queue; its signed receipt is outstanding.",
    deliveredLate: "In {{name}}'s queue; its signed receipt is outstanding ({{late}}).",
    noReason: 'no reason given',
  },
  case: {
    title: 'Birth case {{key}}',
    intro: 'Registered on {{at}} by {{office}}.',
    story: 'What happened',
    storyCaption: 'What happened to this birth case, in order',
    now: 'Where it stands per recipient',
    erasedTitle: 'Erased birth case',
    erased: 'This birth case was erased on {{at}}; reason: {{reason}}.',
    erasedTold: 'Told: {{who}}.',
    erasedProtocol: "What the § 9 IDNrG protocol keeps of its hand-offs is in the Datenschutzcockpit's answer.",
    confirmed: '{{who}} (confirmed on {{at}})',
    notConfirmed: '{{who}} (not confirmed yet)',
    notFound: 'There is no such birth case, or it is not yours to see.',
    reasonHidden: '(free text, hidden from auditors)',
  },
  event: {
    registered: 'Birth registered and reported by {{office}}',
    corrected: 'Entry corrected by {{office}}; reason: {{reason}}',
    consentWithdrawn: "Parents' consent to the notification of the Elterngeldstelle withdrawn",
    idnrAssigned: "Child's tax id assigned and reported by {{office}}",
    idnrCorrected: 'Tax id corrected by {{office}}',
    scheduled: '{{kind}} to {{name}} scheduled',
    delivered: "Put into {{name}}'s queue",
    stored: 'Arrived and stored at {{name}} (time as its receipt states)',
    acknowledged: '{{name}} acknowledged receipt of {{what}}',
    rejected: '{{name}} rejected {{what}}: {{reason}}',
    deadLettered: 'Undeliverable to {{name}}: given up after {{attempts}} attempts',
    overdue: 'Overdue: {{name}} did not acknowledge {{what}} by {{due}}',
    escalated: 'Escalated: {{name}} did not acknowledge {{what}} by {{due}}',
    decisionOverdue: 'Overdue: {{name}} did not decide on the {{benefit}} by {{due}}',
    decisionEscalated: 'Escalated: {{name}} did not decide on the {{benefit}} by {{due}}',
    heldBack: '{{role}}: held back',
    milestone: '{{name}} reports ({{kind}}): {{status}}',
    milestoneCode: '{{name}} reports ({{kind}}): {{status}}, code {{code}}',
    erased: 'Birth case erased: {{reason}}',
    other: 'Log entry {{type}}',
  },
  office: { standesamt: 'Standesamt {{dvdv}}', agency: '{{name}} ({{dvdv}})', notFound: 'This office is not known, or its overview is not yours to see.' },
  delivery: {
    title: 'Hand-off to {{name}}',
    notFound: 'There is no such hand-off, or it is not yours to see.',
    recipient: 'Recipient',
    kind: 'Kind',
    scheduledAt: 'Scheduled on',
    state: 'State',
    next: 'Whose turn',
    legalBasis: 'Legal basis',
    purpose: 'Purpose',
    data: 'Data handed over',
    steps: 'Steps',
    entries: "This hand-off's log entries",
  },
  entry: {
    title: 'Log entry {{id}}',
    notFound: 'There is no such log entry, or it is not yours to see.',
    what: 'What',
    at: 'Recorded on',
    position: 'Position in the log',
    proof: 'Proof of inclusion in the log',
    proofWords: 'This entry is at position {{position}} of the public, append-only log. The signed checkpoint over {{size}} entries includes it: from the entry and {{hashes}} intermediate hashes, the checkpoint\'s root hash can be recomputed. If it matches the checkpoint signed by the hub and cosigned by the witnesses, the entry is provably in the log and cannot be changed afterwards.',
    proofPending: 'Not yet in a signed checkpoint; the proof is available with the next checkpoint.',
    download: 'Download the proof (JSON)',
    checkpoint: 'Checkpoint',
    case: 'Birth case',
    delivery: 'Hand-off',
  },
  type: {
    BirthRegistered: "The Standesamt's birth registration",
    BirthRegistrationCorrected: 'Correction of the birth entry',
    ParentalConsentWithdrawn: 'Withdrawal of consent',
    ChildIdNrAssigned: "The Meldebehörde's tax id notice",
    DeliveryScheduled: 'A hand-off to a benefit agency',
    DeliveryAcknowledged: "The agency's signed receipt",
    DeliveryRejected: "The agency's rejection",
    DeliveryDeadLettered: 'A hand-off given up as undeliverable',
    HandOffOverdue: 'A missed deadline',
    HandOffEscalated: 'An escalation',
    LogCheckpointSigned: 'A signed checkpoint of the log',
    CaseErased: 'Erasure of the birth case',
    ErasureNoticeScheduled: 'Erasure notice to a recipient',
    ErasureConfirmed: 'Confirmation of the erasure',
    SecurityEventRecorded: 'Security event',
    HandOffMilestone: "The agency's processing report",
    TrackingCodeRevoked: 'Revocation of the tracking code',
  },
  time: { suffix: '' },
  problem: { forbidden: 'This view is not meant for your role.' },
};

const i18n = i18next.createInstance();
void i18n.init({ resources: { de: { translation: de }, en: { translation: en } }, lng: 'de', fallbackLng: 'de', supportedLngs: [...locales], initAsync: false, nsSeparator: false, returnNull: false, showSupportNotice: false } as Parameters<typeof i18n.init>[0]);

export interface Messages {
  readonly locale: Locale;
  /** A translation; interpolated values are HTML-escaped. */
  readonly t: TFunction;
  /** `2026-12-05T13:03:27.123Z` → `05.12.2026, 14:03 Uhr` (Europe/Berlin). */
  time(iso: string | null | undefined): string;
  /** `2026-12-05` → `05.12.2026`. */
  date(day: string): string;
}

const dateTime = { de: new Intl.DateTimeFormat('de-DE', { timeZone: 'Europe/Berlin', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }), en: new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', day: '2-digit', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' }) };
const dayOnly = { de: new Intl.DateTimeFormat('de-DE', { timeZone: 'UTC', day: '2-digit', month: '2-digit', year: 'numeric' }), en: new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: '2-digit', month: 'short', year: 'numeric' }) };
const berlinDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit' });

/** The calendar day (YYYY-MM-DD) in Berlin of an instant. */
export const dayInBerlin = (iso: string): string => berlinDay.format(new Date(iso));

export function messages(locale: Locale): Messages {
  const t = i18n.getFixedT(locale);
  return {
    locale,
    t,
    time: (iso) => {
      if (!iso) return '';
      const d = new Date(iso);
      return Number.isNaN(d.getTime()) ? iso : `${dateTime[locale].format(d)}${t('time.suffix')}`;
    },
    date: (day) => {
      const d = new Date(`${day.slice(0, 10)}T00:00:00Z`);
      return Number.isNaN(d.getTime()) ? day : dayOnly[locale].format(d);
    },
  };
}

/** Accept-Language (RFC 9110): the supported language with the highest q-value; German when none. */
export function fromAcceptLanguage(header: string | undefined): Locale {
  let best: { locale: Locale; q: number } | undefined;
  for (const part of (header ?? '').split(',')) {
    const [tag, ...params] = part.trim().toLowerCase().split(';');
    const q = Number(params.map((p) => p.trim()).find((p) => p.startsWith('q='))?.slice(2) ?? 1);
    const primary = (tag ?? '').split('-')[0] as Locale;
    if (!locales.includes(primary) || !(q > 0)) continue;
    if (!best || q > best.q) best = { locale: primary, q };
  }
  return best?.locale ?? 'de';
}

/** The request's language: `?lang=`, then the `lang` cookie, then Accept-Language. */
export function localeOf(query: string | undefined, cookie: string | undefined, acceptLanguage: string | undefined): Locale {
  if (query && locales.includes(query as Locale)) return query as Locale;
  const fromCookie = /(?:^|;\s*)lang=(de|en)(?:;|$)/.exec(cookie ?? '')?.[1];
  if (fromCookie) return fromCookie as Locale;
  return fromAcceptLanguage(acceptLanguage);
}
