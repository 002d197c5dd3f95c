// End to end through `elfe demo`'s exchange (hub and agency connectors as separate processes,
// each party with its own key): synthetic births submitted as XML, routed, relayed, received,
// acknowledged, audited. The expectations are reasoned out here from the births, not taken
// from the demo's report.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ElfeEvent } from '../../contracts/index.ts';
import { runDemo } from '../../hub/src/demo/demo.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { logFiles } from '../../hub/src/log/openHubLog.ts';
import { fromRecord } from '../../hub/src/log/records.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { openCaseLog } from '../../hub/src/log/caseLog.ts';
import { validateAgainstXsd, xmllintAvailable } from '../support/xmllint.ts';
import { natsAvailable } from '../support/natsServer.ts';
import { defaultStandesaemter } from '../../hub/src/config/config.ts';
import { makeScenarios } from '../../hub/src/demo/synthetic.ts';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-e2e-'));

async function logOf(root: string): Promise<{ stream: string; position: number; event: ElfeEvent }[]> {
  const store = openCaseLog(openSqliteEventStore(logFiles(path.join(root, 'hub')).events), path.join(root, 'hub'));
  try {
    return (await collect(store.readAll())).flatMap((s) => {
      const event = fromRecord(s);
      return event ? [{ stream: s.stream, position: s.position, event }] : [];
    });
  } finally {
    await store.close();
  }
}

describe.skipIf(!natsAvailable)('once-only delivery end to end', () => {
  it('300 births: every expected delivery exactly once, acknowledged, in the right inbox, encrypted in the log; the log verifies', async () => {
    const dataDir = tmp();
    const seed = 7;
    const summary = await runDemo({ births: 300, dataDir, seed });
    expect(summary.audit.ok).toBe(true);
    // The layout: the CA, the hub, one directory per party.
    expect(summary.layout.ca).toBe(path.join(dataDir, 'ca'));
    expect(summary.layout.hub).toBe(path.join(dataDir, 'hub'));

    // What the rules imply, from the births themselves. The demo sends, per birth: the
    // registration; the IdNrs early (70 %) or late (25 %) or never; a withdrawal then a correction.
    const scenarios = makeScenarios({ births: 300, seed, standesaemter: defaultStandesaemter, firstEntry: 1 + (seed % 1000) * 10_000 });
    const want = new Map<string, number>();
    const add = (key: string) => want.set(key, (want.get(key) ?? 0) + 1);
    for (const s of scenarios) {
      const k = s.registration.registerKey.eintragsnummer;
      const consent = s.registration.consent.elterngeldstelle === true;
      if (consent) add(`${k}/elterngeldstelle/initial`);
      if (s.idnr !== 'never') add(`${k}/familienkasse/initial`);
      if (s.correction && consent && !s.withdrawal) add(`${k}/elterngeldstelle/correction`);
      if (s.correction && s.idnr === 'early') add(`${k}/familienkasse/correction`);
    }
    const entries = await logOf(dataDir);
    const scheduledEvents = entries.flatMap((e) => (e.event.type === 'DeliveryScheduled' ? [e.event] : []));
    const got = new Map<string, number>();
    for (const d of scheduledEvents) {
      const key = `${d.data.registerKey.eintragsnummer}/${d.data.recipient.role}/${d.data.kind}`;
      got.set(key, (got.get(key) ?? 0) + 1);
    }
    expect(got).toEqual(want);
    for (const d of scheduledEvents) {
      expect(d.data.payload).toBeUndefined();
      expect(d.data.payloadJwe?.split('.')).toHaveLength(5);
    }

    const byCase = new Map<string, ElfeEvent[]>();
    const corrections: Extract<ElfeEvent, { type: 'DeliveryScheduled' }>[] = [];
    for (const e of entries) if (e.stream.startsWith('birth-')) byCase.set(e.stream, [...(byCase.get(e.stream) ?? []), e.event]);
    for (const events of byCase.values()) {
      const registered = events.find((e) => e.type === 'BirthRegistered');
      let withdrawn = false;
      let consent = registered?.type === 'BirthRegistered' && registered.data.consent.elterngeldstelle;
      const received = new Map<string, string>();
      for (const e of events) {
        if (e.type === 'ParentalConsentWithdrawn') withdrawn = true;
        if (e.type === 'BirthRegistrationCorrected') consent = e.data.registration.consent.elterngeldstelle;
        if (e.type !== 'DeliveryScheduled') continue;
        if (e.data.recipient.role === 'elterngeldstelle') {
          // Nothing reaches the Elterngeldstelle without consent or after a withdrawal.
          expect(consent).toBe(true);
          expect(withdrawn).toBe(false);
        }
        if (e.data.kind === 'correction') {
          expect(received.has(e.data.recipient.dvdv)).toBe(true);
          // It names the delivery it corrects, the last one to the same recipient; its reason is a JWE.
          expect(e.data.correction).toEqual({ corrects: received.get(e.data.recipient.dvdv), reasonJwe: expect.any(String) });
          corrections.push(e);
        }
        received.set(e.data.recipient.dvdv, e.data.deliveryId);
      }
    }
    // Every hand-off has exactly one final answer in the log, an acknowledgement.
    const answers = entries.filter((e) => ['DeliveryAcknowledged', 'DeliveryRejected', 'DeliveryDeadLettered'].includes(e.event.type));
    const acknowledged = new Set(answers.filter((e) => e.event.type === 'DeliveryAcknowledged').map((e) => (e.event as { data: { deliveryId: string } }).data.deliveryId));
    expect(answers).toHaveLength(scheduledEvents.length);
    expect(scheduledEvents.filter((d) => !acknowledged.has(d.data.deliveryId))).toEqual([]);
    expect(entries.filter((e) => e.event.type === 'SecurityEventRecorded')).toEqual([]);

    // Each agency's inbox, in its own directory, holds exactly its deliveries, once each.
    for (const dvdv of new Set(scheduledEvents.map((d) => d.data.recipient.dvdv))) {
      const inbox = path.join(dataDir, 'parties', dvdv.replace(':', '-'), 'inbox');
      // A correction's `.meta.json` (its reason, beside the 131011) is no delivery of its own.
      const files = readdirSync(inbox).filter((f) => /\.(xml|json)$/.test(f) && !f.endsWith('.meta.json'));
      expect(new Set(files.map((f) => f.replace(/\.(xml|json)$/, '')))).toEqual(new Set(scheduledEvents.filter((d) => d.data.recipient.dvdv === dvdv).map((d) => d.data.deliveryId)));
      expect(files).toHaveLength(scheduledEvents.filter((d) => d.data.recipient.dvdv === dvdv).length);
    }
    expect(summary.acknowledged).toBe(scheduledEvents.length);

    // Each correction is visible as one in its inbox, with the Standesamt's reason.
    expect(corrections.length).toBeGreaterThan(0);
    for (const c of corrections) {
      const inbox = path.join(dataDir, 'parties', c.data.recipient.dvdv.replace(':', '-'), 'inbox');
      const { corrects } = c.data.correction!;
      if (c.data.recipient.role === 'elterngeldstelle') {
        expect(readFileSync(path.join(inbox, `${c.data.deliveryId}.xml`), 'utf8')).toContain(`<ereignis.zeichen>Berichtigung-${corrects}</ereignis.zeichen>`);
        expect(JSON.parse(readFileSync(path.join(inbox, `${c.data.deliveryId}.meta.json`), 'utf8'))).toEqual({ deliveryId: c.data.deliveryId, kind: 'correction', corrects, reason: 'Berichtigung des Vornamens (§ 47 PStG)' });
      } else {
        expect(JSON.parse(readFileSync(path.join(inbox, `${c.data.deliveryId}.json`), 'utf8'))).toMatchObject({ kind: 'correction', correction: { corrects, reason: 'Berichtigung des Vornamens (§ 47 PStG)' } });
      }
    }

    if (xmllintAvailable) {
      const inbox = path.join(dataDir, 'parties', 'egs-11000000', 'inbox');
      const files = readdirSync(inbox).filter((f) => f.endsWith('.xml')).slice(0, 40);
      const result = validateAgainstXsd('elterngeldstelle', files.map((f) => readFileSync(path.join(inbox, f), 'utf8')));
      expect(result.output).not.toMatch(/fails to validate/);
      expect(result.ok).toBe(true);
    }
    expect(readFileSync(path.join(dataDir, 'hub', 'nats', 'nats-server.conf'), 'utf8')).toContain('verify_and_map: true');
  });
});
