// The dashboard in a real browser: Debian's Chromium driven by playwright-core, with an
// auditor's client certificate (mutual TLS). The hub runs in-process with short deadlines and
// no agency answers, so a submitted birth's hand-off goes overdue while the page is open; htmx
// refreshes the late list, the test waits for it on the page, looks the case up by keyboard,
// and checks that the strict Content-Security-Policy was never violated and the page's basic
// accessibility (labels, lang, one h1). A screenshot is kept in tests/output/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSigner, submitSubjectOf, type Signer } from '../../contracts/index.ts';
import { idNrFrom } from '../../contracts/src/testing/sampleBirth.ts';
import { createRequest, loadCredentials } from '../../connectors/kit/credentials.ts';
import { provisionExchange } from '../../hub/src/app/exchange.ts';
import { startHub, type RunningHub } from '../../hub/src/app/hub.ts';
import { loadConfig } from '../../hub/src/config/config.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';
import { enrolRequest } from '../../hub/src/pki/pki.ts';
import { childIdNr, registered } from '../../hub/src/routing/testing.ts';
import { asProducer, birthOf, ownInboxPrefix, signedBytes } from '../support/liveExchange.ts';
import { natsAvailable } from '../support/natsServer.ts';

const chromiumPath = '/usr/bin/chromium';
const chromiumAvailable = existsSync(chromiumPath);
if (!chromiumAvailable) console.warn(`skipped: the dashboard browser test needs Chromium at ${chromiumPath} (apt-get install chromium)`);
const outputDir = path.resolve(import.meta.dirname, '../output');

describe.skipIf(!natsAvailable || !chromiumAvailable)('dashboard in a browser', () => {
  let root: string;
  let hub: RunningHub;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let sta: NatsConnection;
  let mbh: NatsConnection;
  const violations: string[] = [];
  const idnr = idNrFrom('3657426180');
  const b = birthOf('11007007', 'e2e-dash-1');
  const registerKey = `11007007/G/${b.registerKey.jahr}/e2e-dash-1`;

  const submit = async (nc: NatsConnection, dvdv: string, payload: unknown, signer: Signer) =>
    JSON.parse(new TextDecoder().decode((await nc.request(submitSubjectOf(dvdv), signedBytes(payload, signer), { timeout: 10_000 })).data)) as { ok: boolean };
  const connectAs = (name: string, role: 'standesamt' | 'meldebehoerde', dvdv: string) => {
    const c = loadCredentials(path.join(root, 'parties', name));
    return connect({ servers: hub.natsUrl, tls: { caFile: path.join(root, 'ca', 'ca.cert.pem'), certFile: c.certFile, keyFile: c.keyFile }, inboxPrefix: ownInboxPrefix(role, dvdv) });
  };
  const signerOf = (name: string) => {
    const c = loadCredentials(path.join(root, 'parties', name));
    return certificateSigner(c.privateKey, c.certificatePem);
  };
  /** Basic accessibility: a language, one h1, every input labelled. */
  const checkAccessibility = async (where: string) => {
    expect(await page.locator('html').getAttribute('lang'), `${where}: lang`).toMatch(/^[a-z]{2}/);
    expect(await page.locator('h1').count(), `${where}: one h1`).toBe(1);
    // (In the page's context; this project's TypeScript has no DOM types.)
    const unlabelled = await page.evaluate<string[]>(
      `[...document.querySelectorAll('input, select, textarea')].filter((el) => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')).map((el) => el.outerHTML)`,
    );
    expect(unlabelled, `${where}: inputs without a label`).toEqual([]);
  };

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'elfe-dashboard-'));
    const exchange = await provisionExchange(root, {
      natsPort: await freePort(),
      apiPort: 0,
      // Overdue quickly; escalation far away, so the page shows "overdue".
      hub: { escalation: { acknowledgeWithinMs: 2000, escalateAfterMs: 600_000, reconcileEveryMs: 60_000 } } as never,
    });
    hub = await startHub(loadConfig(exchange.hubConfigFile));
    // An auditor: its own key and CSR, signed by the exchange CA.
    const aud = path.join(root, 'parties', 'aud-e2e');
    await createRequest(aud, { role: 'auditor', dvdv: 'aud:e2e', name: 'Auditor (e2e)' });
    writeFileSync(path.join(aud, 'cert.pem'), (await enrolRequest(path.join(root, 'ca'), readFileSync(path.join(aud, 'request.csr'), 'utf8'))).certificatePem);

    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    const origin = hub.readSide.api!.url;
    // The server's certificate is from the exchange CA, which Chromium does not know.
    context = await browser.newContext({ ignoreHTTPSErrors: true, clientCertificates: [{ origin, certPath: path.join(aud, 'cert.pem'), keyPath: path.join(aud, 'key.pem') }] });
    // Every page reports its CSP violations back to the test (kept across navigations).
    await context.exposeFunction('reportCspViolation', (v: string) => violations.push(`securitypolicyviolation: ${v}`));
    await context.addInitScript({ content: `document.addEventListener('securitypolicyviolation', (e) => void window.reportCspViolation(e.violatedDirective + ' ' + e.blockedURI));` });
    page = await context.newPage();
    page.on('console', (m) => {
      if (/content security policy/i.test(m.text())) violations.push(m.text());
    });
    page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
    sta = await connectAs('sta-11007007', 'standesamt', 'psw:11007007');
    mbh = await connectAs('mbh-demo', 'meldebehoerde', 'mbh:demo');
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await sta?.close();
    await mbh?.close();
    await hub?.stop();
  });

  it('shows a hand-off going overdue, looks it up by keyboard, under the CSP, accessibly', async () => {
    const response = await page.goto(`${hub.readSide.api!.url}/`);
    expect(response?.status()).toBe(200);
    expect(await page.locator('#late-none').count()).toBe(1);
    await checkAccessibility('dashboard');

    // Births as a Standesamt and the Meldebehörde submit them; no agency will answer.
    const producer = (dvdv: string, name: string, role: 'standesamt' | 'meldebehoerde') => ({ dvdv, role, signer: { identity: { name } } }) as never;
    expect((await submit(sta, 'psw:11007007', asProducer(registered(b), producer('psw:11007007', 'Standesamt Test', 'standesamt')), signerOf('sta-11007007'))).ok).toBe(true);
    expect((await submit(mbh, 'mbh:demo', asProducer(childIdNr(b, idnr), producer('mbh:demo', 'Meldebehörde (Demo)', 'meldebehoerde')), signerOf('mbh-demo'))).ok).toBe(true);

    // htmx refreshes the late list every 2 s: wait for it on the page, without reloading.
    const caseId = hub.caseLog.caseStream(b.registerKey);
    const lateRow = page.locator('#late tbody tr', { hasText: caseId });
    await lateRow.first().waitFor({ state: 'visible', timeout: 30_000 });
    expect(await lateRow.first().locator('td').nth(2).textContent()).toBe('overdue');

    // Look-up by keyboard: the labelled input, then Enter (htmx swaps the result in place).
    const input = page.getByLabel('Look up any id');
    await input.focus();
    await input.fill(registerKey);
    await input.press('Enter');
    const result = page.locator('#lookup-result');
    await result.getByText('Geburtenregister key').waitFor({ timeout: 10_000 });
    expect(await result.textContent()).toMatch(/overdue|waiting for its signed receipt|delivered/);
    expect(await page.locator('#lookup-result').count()).toBe(1);
    await checkAccessibility('dashboard after look-up');

    // The case's timeline, following the link from the look-up result.
    await result.getByRole('link', { name: 'case' }).first().click();
    await page.getByText('overdue', { exact: false }).first().waitFor({ timeout: 10_000 });
    expect(await page.locator('ol li').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('overdue')]));
    await checkAccessibility('case timeline');
    await page.goBack();
    await page.locator('#late tbody tr').first().waitFor({ state: 'visible' });

    mkdirSync(outputDir, { recursive: true });
    await page.screenshot({ path: path.join(outputDir, 'dashboard.png'), fullPage: true });

    expect(violations).toEqual([]);
    // The detector itself works: an inline script is refused and reported.
    await page.evaluate(`{ const s = document.createElement('script'); s.textContent = 'void 0'; document.body.append(s); }`);
    await expect.poll(() => violations.length, { timeout: 5000 }).toBeGreaterThan(0);
  }, 120_000);
});
