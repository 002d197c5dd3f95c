// Sendungsverfolgung, against real processes: the Standesamt registers a birth with its own
// command and reads the tracking code from the hub's answer (and from `standesamt status`);
// the family's page, without a client certificate, tells in German where the hand-offs stand
// (received by the Elterngeldstelle, the Familienkasse waiting for the child's Steuer-ID, the
// Elterngeldstelle's milestone "bewilligt" reported with its connector's command) and names no
// person, no IdNr, no register key; a wrong code and an unknown one get the same answer; the
// proof of a hand-off downloads as a C2SP tlog-proof that `elfe audit verify-proof` accepts; the
// Standesamt revokes the code (the old one shows nothing, the new one works); lookups are rate
// limited per client.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import https from 'node:https';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatRegisterKey, type BirthRegisteredData } from '../../contracts/index.ts';
import { defaultStandesaemter } from '../../hub/src/config/config.ts';
import { makeScenarios } from '../../hub/src/demo/synthetic.ts';
import { birthXml } from '../support/births.ts';
import { startLiveExchange, type LiveExchange } from '../support/liveExchange.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { runElfe } from '../support/processes.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const chromiumPath = '/usr/bin/chromium';
const chromiumAvailable = existsSync(chromiumPath);
if (!chromiumAvailable) console.warn(`the family page's browser check needs Chromium at ${chromiumPath} (apt-get install chromium); skipped`);
const outputDir = path.resolve(import.meta.dirname, '../output');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * The family page in Chromium (no client certificate, no JavaScript of its own): the form by
 * keyboard, the answer for a code and for a wrong one; axe-core (WCAG 2.1 A/AA) with zero
 * violations on each; screenshots under tests/output/.
 */
async function browserWalk(baseUrl: string, code: string): Promise<void> {
  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: true, locale: 'de-DE', viewport: { width: 1000, height: 1100 } });
    const page = await context.newPage();
    const axe = async (where: string) => {
      // Injected through the DevTools protocol (the page's CSP allows no script).
      await page.evaluate(axeSource);
      const violations = await page.evaluate<string[]>(
        `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }).then((r) => r.violations.map((v) => v.id + ': ' + v.help + ' ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`,
      );
      expect(violations, `${where}: axe-core violations`).toEqual([]);
    };
    mkdirSync(outputDir, { recursive: true });
    await page.goto(`${baseUrl}/sendungsverfolgung`);
    await axe('the form');
    await page.screenshot({ path: path.join(outputDir, 'sendungsverfolgung-form.png'), fullPage: true });
    // Keyboard only: Tab to the field, type, Enter submits the plain GET form.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('code');
    await page.keyboard.type(code.toLowerCase());
    await Promise.all([page.waitForURL(/code=/), page.keyboard.press('Enter')]);
    expect(await page.locator('h1').textContent()).toBe('Stand der Geburtsmitteilung');
    expect(await page.locator('html').getAttribute('lang')).toBe('de');
    await axe('the answer');
    await page.screenshot({ path: path.join(outputDir, 'sendungsverfolgung.png'), fullPage: true });
    await page.goto(`${baseUrl}/sendungsverfolgung?code=0000-0000-0000-0000`);
    expect(await page.locator('[role=status]').textContent()).toContain('keine Geburtsmitteilung bekannt');
    await axe('a wrong code');
    await page.screenshot({ path: path.join(outputDir, 'sendungsverfolgung-unbekannt.png'), fullPage: true });
    await context.close();
  } finally {
    await browser.close();
  }
}

const standesamt = defaultStandesaemter.find((s) => s.standesamtsnummer === '11007007')!;
const lookupsPerMinute = 40;

describe.skipIf(!natsAvailable)('Sendungsverfolgung: the family page, public, in German, without personal data', () => {
  let x: LiveExchange;
  const [s] = makeScenarios({ births: 1, seed: 2626, standesaemter: [standesamt], firstEntry: 9300 });
  const registration: BirthRegisteredData = {
    ...s!.registration,
    registerKey: { ...s!.registration.registerKey, eintragsnummer: 'SVFOLGE' },
    child: { ...s!.registration.child, name: { firstNames: ['Walburgis'], familyName: 'Hollerbusch' } },
    parent1: { ...s!.registration.parent1, name: { firstNames: ['Ottilie'], familyName: 'Hollerbusch', birthName: 'Brennessel' } },
    ...(s!.registration.parent2 ? { parent2: { ...s!.registration.parent2, name: { firstNames: ['Pankraz'], familyName: 'Hollerbusch' } } } : {}),
    consent: { elterngeldstelle: true, auftragsnummer: 'EG-SVFOLGE-1' },
  };
  const key = formatRegisterKey(registration.registerKey);
  const personal = ['Walburgis', 'Hollerbusch', 'Ottilie', 'Brennessel', 'Pankraz', 'SVFOLGE', key, encodeURIComponent(key), s!.childIdNr, s!.parent1IdNr, 'EG-SVFOLGE-1'];
  const staConfig = () => path.join(x.root, 'parties', 'sta-11007007', 'config.json');

  /** A GET without a client certificate (the family's browser). */
  const get = (url: string) =>
    new Promise<{ status: number; text: string; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: x.apiPort!, path: url, method: 'GET', ca: readFileSync(path.join(x.caDir, 'ca.cert.pem')) }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });
  const page = (code: string) => get(`/sendungsverfolgung?code=${encodeURIComponent(code)}`);
  const noPersonalData = (text: string) => {
    for (const needle of personal) expect(text, `the page names ${needle}`).not.toContain(needle);
  };

  beforeAll(async () => {
    x = await startLiveExchange('tracking', {
      api: true,
      beforeHub: (root) => {
        const file = path.join(root, 'hub', 'config.json');
        const config = JSON.parse(readFileSync(file, 'utf8')) as { api: Record<string, unknown> };
        writeFileSync(file, JSON.stringify({ ...config, api: { ...config.api, trackingLookupsPerMinute: lookupsPerMinute } }, null, 2));
      },
    });
    await x.startConnector('egs-11000000');
    await x.startConnector('fka-ost');
  }, 180_000);

  afterAll(async () => {
    await x?.stop();
  });

  it('registers, shows the code, the page tells where the hand-offs stand, proofs verify, a wrong code is unknown, revocation and the rate limit work', async () => {
    const dir = path.join(x.root, 'outside', 'svfolge');
    mkdirSync(dir, { recursive: true });
    const xml = birthXml(s!, registration);
    writeFileSync(path.join(dir, 'n.xml'), xml.notice);
    writeFileSync(path.join(dir, 's.xml'), xml.supplement);
    const sent = await runElfe(['standesamt', 'submit', path.join(dir, 'n.xml'), '--with', path.join(dir, 's.xml'), '--register', key, '--config', staConfig()], { timeoutMs: 120_000 });
    expect(sent.code, sent.stdout + sent.stderr).toBe(0);
    const codeRe = /tracking code for the parents: ([0-9A-HJKMNP-TV-Z]{4}(?:-[0-9A-HJKMNP-TV-Z]{4}){3})/;
    const code = codeRe.exec(sent.stdout)?.[1];
    expect(code, sent.stdout).toBeDefined();
    // Printed again by `standesamt status`, from the outbox.
    const status = await runElfe(['standesamt', 'status', '--register', key, '--config', staConfig()]);
    expect(status.stdout).toContain(`tracking code for the parents of ${key}: ${code}`);

    // The Elterngeldstelle receives and acknowledges; the Familienkasse waits for the IdNr (none sent).
    await until(() => x.log().some((r) => r.type === 'DeliveryAcknowledged'), { what: 'the Elterngeldstelle acknowledged', timeoutMs: 90_000 });
    const delivery = x.log().find((r) => r.type === 'DeliveryScheduled' && (r.event.data['recipient'] as { dvdv: string }).dvdv === 'egs:11000000')!;
    const deliveryId = delivery.event.data['deliveryId'] as string;

    // A milestone from the Familienkasse for the Elterngeldstelle's delivery: refused, a security event.
    const foreign = await runElfe(['connector', 'familienkasse', 'milestone', '--delivery', deliveryId, '--status', 'abgelehnt', '--config', path.join(x.root, 'parties', 'fka-ost', 'config.json')]);
    expect(foreign.code, foreign.stdout + foreign.stderr).toBe(0);
    // The recipient's own: logged.
    const own = await runElfe(['connector', 'elterngeld', 'milestone', '--delivery', deliveryId, '--status', 'bewilligt', '--code', 'B-1', '--config', path.join(x.root, 'parties', 'egs-11000000', 'config.json'), '--json']);
    expect(own.code, own.stdout + own.stderr).toBe(0);
    expect(JSON.parse(own.stdout)).toMatchObject({ sent: true, deliveryId, status: 'bewilligt' });
    await until(() => x.log().some((r) => r.type === 'HandOffMilestone'), { what: 'the milestone logged', timeoutMs: 30_000 });
    await until(() => x.log().some((r) => r.stream === 'security' && (r.event.data as { code?: string }).code === 'not-recipient'), { what: 'the foreign milestone refused', timeoutMs: 30_000 });
    expect(x.log().filter((r) => r.type === 'HandOffMilestone').map((r) => r.event.data['recipient'])).toEqual(['egs:11000000']);

    // The page, without a client certificate (the read side follows the log within moments).
    let shown = await page(code!);
    for (let i = 0; i < 20 && !shown.text.includes('Elterngeld bewilligt'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      shown = await page(code!);
    }
    expect(shown.status).toBe(200);
    expect(shown.headers['content-type']).toMatch(/text\/html/);
    expect(shown.text).toContain('<html lang="de">');
    expect(shown.text).toMatch(/Elterngeldstelle [^<]* hat die Geburtsmitteilung erhalten \(am \d{1,2}\. [A-Za-zä]+ \d{4} um \d{2}:\d{2} Uhr\)/);
    expect(shown.text).toContain('Familienkasse wartet auf die Steuer-ID des Kindes');
    expect(shown.text).toContain('Elterngeld bewilligt');
    expect(shown.text).not.toContain('<script');
    expect(shown.text).toContain('<form method="get" action="/sendungsverfolgung">');
    noPersonalData(shown.text);
    // Lower case and without dashes: the same code.
    expect((await page(code!.replace(/-/g, '').toLowerCase())).text).toContain('Elterngeld bewilligt');

    // A wrong code (well-formed) and a malformed one: the same answer as an unknown code.
    const wrong = await page(code!.startsWith('0') ? `1${code!.slice(1)}` : `0${code!.slice(1)}`);
    const malformed = await page('hallo');
    expect(wrong.status).toBe(404);
    expect(malformed.status).toBe(404);
    expect(wrong.text).toBe(malformed.text);
    expect(wrong.text).toContain('Zu diesem Code ist keine Geburtsmitteilung bekannt');

    // The proof of the hand-off: a C2SP tlog-proof, once a checkpoint covers it; it verifies with the hub's key.
    let proof = await get(`/sendungsverfolgung/nachweis?code=${encodeURIComponent(code!)}&nr=1`);
    for (let i = 0; i < 20 && proof.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      proof = await get(`/sendungsverfolgung/nachweis?code=${encodeURIComponent(code!)}&nr=1`);
    }
    expect(proof.status, proof.text).toBe(200);
    expect(proof.text.startsWith('c2sp.org/tlog-proof@v1\n')).toBe(true);
    noPersonalData(proof.text);
    noPersonalData(Buffer.from(/^extra (.*)$/m.exec(proof.text)![1]!, 'base64').toString('utf8'));
    const keys = await runElfe(['keys', 'show', '--data', x.hubDir, '--json']);
    writeFileSync(path.join(dir, 'hub.vkey'), (JSON.parse(keys.stdout) as { verifierKey: string }).verifierKey);
    writeFileSync(path.join(dir, 'nachweis.tlog-proof'), proof.text);
    const verified = await runElfe(['audit', 'verify-proof', path.join(dir, 'nachweis.tlog-proof'), '--key', path.join(dir, 'hub.vkey'), '--json']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);

    // The Standesamt revokes the code: the old one shows nothing (the unknown answer), the new one works.
    const revoked = await runElfe(['standesamt', 'revoke-tracking-code', '--register', key, '--config', staConfig(), '--json']);
    expect(revoked.code, revoked.stdout + revoked.stderr).toBe(0);
    const fresh = (JSON.parse(revoked.stdout) as { trackingCode?: string }).trackingCode;
    expect(fresh).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(fresh).not.toBe(code);
    let old = await page(code!);
    for (let i = 0; i < 20 && old.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      old = await page(code!);
    }
    expect(old.status).toBe(404);
    expect(old.text).toBe(malformed.text);
    expect((await page(fresh!)).text).toContain('Elterngeld bewilligt');

    // In Chromium, with axe-core: the form, the answer, a wrong code.
    if (chromiumAvailable) await browserWalk(`https://127.0.0.1:${x.apiPort!}`, fresh!);

    // The rate limit per client: beyond it, 429 in German.
    let limited: Awaited<ReturnType<typeof page>> | undefined;
    for (let i = 0; i <= lookupsPerMinute + 1 && !limited; i++) {
      const r = await page(fresh!);
      if (r.status === 429) limited = r;
    }
    expect(limited?.status).toBe(429);
    expect(limited?.headers['retry-after']).toBe('60');
    expect(limited?.text).toContain('zu viele Abfragen');
    // Everything else of the API still wants a client certificate.
    expect((await get('/api/v1/summary')).status).toBe(401);
  });
});
