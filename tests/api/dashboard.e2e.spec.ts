// The dashboard in a real browser: Debian's Chromium driven by playwright-core, with client
// certificates (mutual TLS): an auditor's German browser, then a Standesamt's. The hub runs
// in-process with short deadlines; the Elterngeldstelle's connector runs (it acknowledges), the
// Familienkasse's does not, so its hand-offs go overdue while the page is open; htmx refreshes
// the late list. A birth is registered, corrected (with a reason), its consent withdrawn and its
// IdNr assigned; a second birth waits for its IdNr. The Elterngeldstelle's case system drops a
// milestone (Elterngeld bewilligt) into its connector's milestone folder; the other hand-off it
// acknowledged waits past its decision deadline. The test walks
// by keyboard only from the search to the case's timeline and on to a delivery, switches to
// English and back, checks every page with axe-core (WCAG 2.1 AA and best practices: zero
// violations), that the strict Content-Security-Policy was never violated, and keeps
// screenshots in tests/output/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSigner, submitSubjectOf, type Signer } from '../../contracts/index.ts';
import { idNrFrom } from '../../contracts/src/testing/sampleBirth.ts';
import { createRequest, loadCredentials } from '../../connectors/kit/credentials.ts';
import { runElterngeldConnector, type RunningConnector } from '../../connectors/elterngeld/src/main.ts';
import { loadPartyConfig } from '../../connectors/kit/partyConfig.ts';
import { provisionExchange } from '../../hub/src/app/exchange.ts';
import { startHub, type RunningHub } from '../../hub/src/app/hub.ts';
import { loadConfig } from '../../hub/src/config/config.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { enrolRequest } from '../../hub/src/pki/pki.ts';
import { childIdNr, corrected, registered, withdrawn } from '../../hub/src/routing/testing.ts';
import { asProducer, birthOf, ownInboxPrefix, signedBytes } from '../support/liveExchange.ts';
import { natsAvailable } from '../support/natsServer.ts';

const chromiumPath = '/usr/bin/chromium';
const chromiumAvailable = existsSync(chromiumPath);
if (!chromiumAvailable) console.warn(`skipped: the dashboard browser test needs Chromium at ${chromiumPath} (apt-get install chromium)`);
const outputDir = path.resolve(import.meta.dirname, '../output');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** German date and time to the minute, Europe/Berlin: 05.12.2026, 14:03 Uhr. */
const germanTime = /\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} Uhr/;

describe.skipIf(!natsAvailable || !chromiumAvailable)('dashboard in a browser', () => {
  let root: string;
  let hub: RunningHub;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let sta: NatsConnection;
  let mbh: NatsConnection;
  let egsConnector: RunningConnector;
  const violations: string[] = [];
  const idnr = idNrFrom('3657426180');
  const b = birthOf('11007007', 'e2e-dash-1');
  const waiting = birthOf('11007007', 'e2e-dash-2');
  const registerKey = `11007007/G/${b.registerKey.jahr}/e2e-dash-1`;

  const submit = async (nc: NatsConnection, dvdv: string, payload: unknown, signer: Signer) =>
    JSON.parse(new TextDecoder().decode((await nc.request(submitSubjectOf(dvdv), signedBytes(payload, signer), { timeout: 10_000 })).data)) as { ok: boolean };
  const connectAs = (name: string, role: 'standesamt' | 'meldebehoerde' | 'elterngeldstelle', dvdv: string) => {
    const c = loadCredentials(path.join(root, 'parties', name));
    return connect({ servers: hub.natsUrl, tls: { caFile: path.join(root, 'ca', 'ca.cert.pem'), certFile: c.certFile, keyFile: c.keyFile }, inboxPrefix: ownInboxPrefix(role, dvdv) });
  };
  const signerOf = (name: string) => {
    const c = loadCredentials(path.join(root, 'parties', name));
    return certificateSigner(c.privateKey, c.certificatePem);
  };
  const newContext = async (label: string, certPath: string, keyPath: string): Promise<BrowserContext> => {
    // The server's certificate is from the exchange CA, which Chromium does not know. A German browser.
    const ctx = await browser.newContext({ locale: 'de-DE', ignoreHTTPSErrors: true, clientCertificates: [{ origin: hub.readSide.api!.url, certPath, keyPath }] });
    // Every page reports its CSP violations back to the test (kept across navigations).
    await ctx.exposeFunction('reportCspViolation', (v: string) => violations.push(`${label}: securitypolicyviolation: ${v}`));
    await ctx.addInitScript({ content: `document.addEventListener('securitypolicyviolation', (e) => void window.reportCspViolation(e.violatedDirective + ' ' + e.blockedURI));` });
    return ctx;
  };
  const watch = (label: string, p: Page) => {
    p.on('console', (m) => {
      if (/content security policy/i.test(m.text())) violations.push(`${label}: ${m.text()}`);
    });
    p.on('pageerror', (e) => violations.push(`${label}: page error: ${e.message}`));
  };
  /** axe-core on the page as it is (WCAG 2.0/2.1 A and AA, best practices): zero violations; lang, one h1. */
  const checkAccessibility = async (p: Page, where: string, lang = 'de') => {
    expect(await p.locator('html').getAttribute('lang'), `${where}: lang`).toBe(lang);
    expect(await p.locator('h1').count(), `${where}: one h1`).toBe(1);
    // Evaluated through the DevTools protocol, not as a page script: the CSP stays as it is.
    await p.evaluate(axeSource);
    const found = await p.evaluate<{ id: string; impact: string; nodes: string[] }[]>(
      `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) })))`,
    );
    expect(found, `${where}: axe-core violations`).toEqual([]);
  };
  const shot = async (p: Page, name: string) => {
    mkdirSync(outputDir, { recursive: true });
    await p.screenshot({ path: path.join(outputDir, name), fullPage: true });
  };
  /** Tab until the focused element matches (keyboard only). */
  const tabTo = async (p: Page, selector: string, max = 60) => {
    for (let i = 0; i < max; i++) {
      await p.keyboard.press('Tab');
      if (await p.evaluate<boolean>(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return;
    }
    throw new Error(`no focusable ${selector} within ${max} tabs`);
  };

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'elfe-dashboard-'));
    const exchange = await provisionExchange(root, {
      natsPort: await freePort(),
      apiPort: 0,
      // Overdue quickly; escalation far away, so the page shows "overdue". The same for the decision after a receipt.
      hub: {
        escalation: {
          acknowledgeWithinMs: 2000,
          escalateAfterMs: 600_000,
          reconcileEveryMs: 60_000,
          decision: { elterngeldstelle: { decideWithinMs: 3000, escalateAfterMs: 600_000 }, familienkasse: { decideWithinMs: 3000, escalateAfterMs: 600_000 } },
        },
      } as never,
    });
    hub = await startHub(loadConfig(exchange.hubConfigFile));
    // An auditor: its own key and CSR, signed by the exchange CA.
    const aud = path.join(root, 'parties', 'aud-e2e');
    await createRequest(aud, { role: 'auditor', dvdv: 'aud:e2e', name: 'Auditor (e2e)' });
    writeFileSync(path.join(aud, 'cert.pem'), (await enrolRequest(path.join(root, 'ca'), readFileSync(path.join(aud, 'request.csr'), 'utf8'))).certificatePem);

    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    context = await newContext('auditor', path.join(aud, 'cert.pem'), path.join(aud, 'key.pem'));
    page = await context.newPage();
    watch('auditor', page);
    sta = await connectAs('sta-11007007', 'standesamt', 'psw:11007007');
    mbh = await connectAs('mbh-demo', 'meldebehoerde', 'mbh:demo');
    // The Elterngeldstelle's connector, as its own process would run it: inbox, receipts, milestone folder.
    egsConnector = await runElterngeldConnector(loadPartyConfig(path.join(root, 'parties', 'egs-11000000', 'config.json')), () => undefined);
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await sta?.close();
    await mbh?.close();
    await egsConnector?.stop();
    await hub?.stop();
  });

  it('a German caseworker: dashboard, search by keyboard, the case\'s story, a delivery and its proof; accessible, under the CSP', async () => {
    const response = await page.goto(`${hub.readSide.api!.url}/`);
    expect(response?.status()).toBe(200);
    expect(await page.locator('h1').textContent()).toBe('Die Vermittlung auf einen Blick');
    expect(await page.locator('#late-none').count()).toBe(1);
    await checkAccessibility(page, 'dashboard (empty)');

    // A birth registered, corrected with a reason, its consent withdrawn, its IdNr assigned; a second one waits for its IdNr.
    const producer = (dvdv: string, name: string, role: 'standesamt' | 'meldebehoerde') => ({ dvdv, role, signer: { identity: { name } } }) as never;
    const asSta = (e: unknown) => asProducer(e as object, producer('psw:11007007', 'Standesamt Berlin-Mitte', 'standesamt'));
    for (const e of [registered(b), corrected(b), withdrawn(b), registered(waiting)]) expect((await submit(sta, 'psw:11007007', asSta(e), signerOf('sta-11007007'))).ok).toBe(true);
    expect((await submit(mbh, 'mbh:demo', asProducer(childIdNr(b, idnr), producer('mbh:demo', 'Meldebehörde Berlin', 'meldebehoerde')), signerOf('mbh-demo'))).ok).toBe(true);

    // htmx refreshes the late list every 2 s: wait for it on the page, without reloading.
    const caseId = hub.caseLog.caseStream(b.registerKey);
    // The Elterngeldstelle's case system reports what became of the correction: it drops a
    // milestone file into its connector's folder; the connector signs and sends it, and moves
    // the file to done/ once the hub logged it.
    const correction = async () => hub.readSide.store.handOffsOf(caseId).find((h) => h.role === 'elterngeldstelle' && h.kind === 'correction');
    await expect.poll(async () => (await correction())?.outcome, { timeout: 30_000 }).toBe('acknowledged');
    const milestones = path.join(root, 'parties', 'egs-11000000', 'milestones');
    writeFileSync(path.join(milestones, '.bescheid.json.tmp'), JSON.stringify({ deliveryId: (await correction())!.deliveryId, status: 'bewilligt', code: 'B-12' }));
    renameSync(path.join(milestones, '.bescheid.json.tmp'), path.join(milestones, 'bescheid.json'));
    await expect.poll(() => existsSync(path.join(milestones, 'done', 'bescheid.json')), { timeout: 30_000 }).toBe(true);
    await expect.poll(async () => hub.readSide.store.milestonesOf((await correction())!.deliveryId).length, { timeout: 20_000 }).toBe(1);
    const lateStates = () => page.locator('#late tbody tr td:nth-child(3)').allTextContents();
    await expect.poll(lateStates, { timeout: 30_000 }).toContain('überfällig');
    // Counts that add up: per recipient, every case in exactly one state. The second birth's
    // Elterngeld hand-off was acknowledged and waits past its decision deadline.
    const count = async (state: string, column: number) => {
      const row = page.locator('#states tr', { hasText: state });
      return (await row.count()) === 0 ? undefined : row.first().locator('td').nth(column).textContent();
    };
    await expect
      .poll(async () => {
        await page.reload();
        return count('quittiert, Entscheidung überfällig', 0);
      }, { timeout: 30_000 })
      .toBe('1');
    expect(await lateStates()).toContain('quittiert, Entscheidung überfällig');
    expect(await page.locator('#states [data-total="elterngeldstelle"]').textContent()).toBe('2');
    expect(await page.locator('#states [data-total="familienkasse"]').textContent()).toBe('2');
    expect(await count('wartet auf die Steuer-ID', 1)).toBe('1');
    // Held back for an unusable recipient certificate: counted apart (none here).
    expect([await count('zurückgehalten: Zertifikat des Empfängers nicht nutzbar', 0), await count('zurückgehalten: Zertifikat des Empfängers nicht nutzbar', 1)]).toEqual(['0', '0']);
    expect(await page.locator('#states tr', { hasText: /^quittiert/ }).first().locator('td').first().textContent()).toBe('1');
    // Births per day: both born on 01.11.2026, both registered today (Berlin).
    expect(await page.locator('#births tbody tr', { hasText: '01.11.2026' }).locator('td').first().textContent()).toBe('2');
    expect(await page.locator('#births tbody tr').first().locator('td').nth(1).textContent()).toBe('2');
    expect(await page.locator('#cases').textContent()).toMatch(germanTime);
    await checkAccessibility(page, 'dashboard');
    await shot(page, 'dashboard.png');

    // Keyboard only: Tab to the search, type the register key, Enter; Tab to the case, Enter.
    await tabTo(page, '#search-id');
    await page.keyboard.type(registerKey);
    await page.keyboard.press('Enter');
    await page.locator('#lookup-result').waitFor();
    await checkAccessibility(page, 'search result');
    await tabTo(page, '#lookup-result a[href^="/dashboard/cases/"]');
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/dashboard/cases/${encodeURIComponent(caseId)}`);
    const story = (await page.locator('ol.story').textContent()) ?? '';
    for (const step of [
      /Geburt beurkundet und gemeldet von Standesamt Berlin-Mitte psw:11007007/,
      // The reason is free text: the Standesamt reads it (below), the auditor does not.
      /Eintrag berichtigt von Standesamt Berlin-Mitte psw:11007007; Grund: \(Freitext, für die Prüfung ausgeblendet\)/,
      /Einwilligung der Eltern in die Mitteilung an die Elterngeldstelle widerrufen/,
      /Steuer-ID des Kindes zugeteilt und mitgeteilt von Meldebehörde Berlin/,
      /Erstmitteilung an .* veranlasst/,
      /Berichtigung an .* veranlasst/,
      /Elterngeldstelle Berlin meldet \(Berichtigung\): Elterngeld bewilligt, Kennzeichen B-12/,
      // The delivered step at the time the Elterngeldstelle's connector stored it (its receipt says when).
      /\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} Uhr: Bei Elterngeldstelle Berlin angekommen und gespeichert \(Zeitpunkt laut ihrer Quittung\)/,
      /Elterngeldstelle Berlin hat den Empfang die Berichtigung quittiert/,
      /Überfällig: .* hat die Erstmitteilung bis \d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} Uhr nicht quittiert/,
    ])
      expect(story).toMatch(step);
    expect(story).toMatch(germanTime);
    expect(story).not.toMatch(/Kunigundis|Zwetschgenbaum/);
    await checkAccessibility(page, 'case timeline');
    await shot(page, 'case.png');

    // On to a delivery, by keyboard.
    await tabTo(page, '#now a[href^="/dashboard/deliveries/"]');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/dashboard/deliveries/**');
    expect(await page.locator('h1').textContent()).toMatch(/^Übermittlung an /);
    const details = (await page.locator('dl').textContent()) ?? '';
    expect(details).toMatch(/Rechtsgrundlage/);
    expect(details).toMatch(/Bearbeitungsstand/);
    expect(details).toMatch(/Mitteilung der Geburt an die/);
    await checkAccessibility(page, 'delivery');
    await shot(page, 'delivery.png');

    // The recipient by its name, its address a link to its page.
    await page.locator('dl a[href^="/dashboard/offices/"]').first().click();
    await page.locator('#recent-h').waitFor();
    expect(await page.locator('h1').textContent()).toMatch(/\((egs|fka):[^)]+\)$/);
    await checkAccessibility(page, 'office');
    await page.goBack();
    await page.locator('#entries-h').waitFor();

    // Its log entry: the proof in words (or that the next checkpoint brings it), the raw JSON as a download.
    await page.locator('a[href^="/dashboard/entries/"]').first().click();
    await page.locator('#proof-h').waitFor();
    expect(await page.locator('main').textContent()).toMatch(/öffentlichen, nur anfügbaren Protokolls|nächsten Prüfpunkt/);
    await checkAccessibility(page, 'log entry');

    // English on request, remembered; and back.
    await page.getByRole('link', { name: 'English' }).click();
    await page.locator('html[lang="en"]').waitFor();
    await checkAccessibility(page, 'log entry (English)', 'en');
    await page.goto(`${hub.readSide.api!.url}/dashboard/cases/${encodeURIComponent(caseId)}`);
    expect(await page.locator('h1').textContent()).toBe(`Birth case ${registerKey}`);
    await page.getByRole('link', { name: 'Deutsch' }).click();
    await page.locator('html[lang="de"]').waitFor();

    // The second birth: the Familienkasse waits for the IdNr, and the page says what releases it.
    await page.goto(`${hub.readSide.api!.url}/dashboard/cases/${encodeURIComponent(hub.caseLog.caseStream(waiting.registerKey))}`);
    const held = page.locator('#now tr', { hasText: 'Familienkasse' });
    expect(await held.locator('td').first().textContent()).toBe('wartet auf die Steuer-ID');
    expect(await held.textContent()).toMatch(/Freigabe: sobald die Meldebehörde die Steuer-ID mitteilt/);
    expect(await page.locator('ol.story').textContent()).toMatch(/Familienkasse: zurückgehalten/);
    await checkAccessibility(page, 'case held back');

    // A way back on every page.
    await page.getByRole('link', { name: 'Zurück zur Übersicht' }).click();
    await page.locator('#late-h').waitFor();

    expect(violations).toEqual([]);
    // The detector itself works: an inline script is refused and reported.
    await page.evaluate(`{ const s = document.createElement('script'); s.textContent = 'void 0'; document.body.append(s); }`);
    await expect.poll(() => violations.length, { timeout: 5000 }).toBeGreaterThan(0);
  }, 180_000);

  it('a Standesamt sees its own births on the same pages', async () => {
    const c = loadCredentials(path.join(root, 'parties', 'sta-11007007'));
    const own = await newContext('standesamt', c.certFile, c.keyFile);
    const p = await own.newPage();
    watch('standesamt', p);
    try {
      expect((await p.goto(`${hub.readSide.api!.url}/`))?.status()).toBe(200);
      expect(await p.locator('h1').textContent()).toBe('Ihre Geburtsmeldungen');
      expect(await p.locator('#cases').textContent()).toContain(registerKey);
      // Its own late hand-offs, its own counts.
      expect(await p.locator('#late tbody tr').count()).toBeGreaterThan(0);
      expect(await p.locator('#states [data-total="familienkasse"]').textContent()).toBe('2');
      expect(await p.locator('main').textContent()).not.toMatch(/Prüfpunkt und seine Zeugen/);
      await checkAccessibility(p, 'Standesamt dashboard');
      await shot(p, 'standesamt.png');
      await p.locator('#cases a', { hasText: registerKey }).click();
      await p.locator('ol.story').waitFor();
      expect(await p.locator('ol.story').textContent()).toMatch(/Grund: Vorname berichtigt/);
      await checkAccessibility(p, 'Standesamt case');
      expect(violations.filter((v) => v.startsWith('standesamt:'))).toEqual([]);
    } finally {
      await own.close();
    }
  }, 60_000);
});
