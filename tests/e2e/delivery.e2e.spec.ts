// End to end against a real nats-server and a real SQLite log: synthetic births submitted as
// XML, routed, relayed, received by the agency connectors, acknowledged, audited.
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
import { validateAgainstXsd, xmllintAvailable } from '../support/xmllint.ts';
import { natsAvailable, startTestNatsServer } from '../support/natsServer.ts';
import { freePort } from '../../hub/src/infra/nats/natsServer.ts';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-e2e-'));

async function logOf(dataDir: string): Promise<{ stream: string; position: number; event: ElfeEvent }[]> {
  const store = openSqliteEventStore(logFiles(dataDir).events);
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
  it('300 births (certificates, TLS, JWE): every expected delivery exactly once, acknowledged, in the right inbox; the log verifies', async () => {
    const dataDir = tmp();
    const summary = await runDemo({ births: 300, dataDir, seed: 7 });
    expect(summary.problems).toEqual([]);
    expect(summary.audit.ok).toBe(true);
    expect(summary.acknowledged).toBe(summary.deliveries.elterngeldstelle + summary.deliveries.familienkasse);
    expect(summary.deliveries.elterngeldstelle).toBeGreaterThan(150);
    expect(summary.deliveries.familienkasse).toBeGreaterThan(250);

    const entries = await logOf(dataDir);
    const byCase = new Map<string, ElfeEvent[]>();
    for (const e of entries) if (e.stream.startsWith('birth-')) byCase.set(e.stream, [...(byCase.get(e.stream) ?? []), e.event]);
    let corrections = 0;
    for (const events of byCase.values()) {
      const registered = events.find((e) => e.type === 'BirthRegistered');
      let withdrawn = false;
      let consent = registered?.type === 'BirthRegistered' && registered.data.consent.elterngeldstelle;
      const received = new Set<string>();
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
          corrections++;
          expect(received.has(e.data.recipient.dvdv)).toBe(true);
        }
        received.add(e.data.recipient.dvdv);
      }
    }
    expect(corrections).toBeGreaterThan(0);
    // Every hand-off has its receipt in the log.
    const acknowledged = new Set(entries.filter((e) => e.event.type === 'DeliveryAcknowledged').map((e) => (e.event as { data: { deliveryId: string } }).data.deliveryId));
    const scheduled = entries.filter((e) => e.event.type === 'DeliveryScheduled').map((e) => (e.event as { data: { deliveryId: string } }).data.deliveryId);
    expect(scheduled.filter((id) => !acknowledged.has(id))).toEqual([]);

    if (xmllintAvailable) {
      const inbox = path.join(dataDir, 'inbox', 'egs-11000000');
      const files = readdirSync(inbox).filter((f) => f.endsWith('.xml')).slice(0, 40);
      const result = validateAgainstXsd('elterngeldstelle', files.map((f) => readFileSync(path.join(inbox, f), 'utf8')));
      expect(result.output).not.toMatch(/fails to validate/);
      expect(result.ok).toBe(true);
    }
  });

  it('with certificates, TLS with per-role permissions and confidential payloads: every delivery arrives, and the log keeps only ciphertext of payloads', async () => {
    const dataDir = tmp();
    const summary = await runDemo({ births: 100, dataDir, seed: 5, config: { trust: { mode: 'pki' } } });
    expect(summary.problems).toEqual([]);
    expect(summary.audit.ok).toBe(true);
    const scheduled = (await logOf(dataDir)).flatMap((e) => (e.event.type === 'DeliveryScheduled' ? [e.event] : []));
    expect(scheduled.length).toBe(summary.acknowledged);
    for (const d of scheduled) {
      expect(d.data.payload).toBeUndefined();
      expect(d.data.payloadJwe?.split('.')).toHaveLength(5);
    }
    expect(readFileSync(path.join(dataDir, 'nats', 'nats-server.conf'), 'utf8')).toContain('verify_and_map: true');
    const security = (await logOf(dataDir)).filter((e) => e.event.type === 'SecurityEventRecorded');
    expect(security).toEqual([]);
  });

  it('with certificates and TLS, restarting the hub, the nats-server and the connectors mid-run loses and duplicates nothing', async () => {
    const dataDir = tmp();
    const summary = await runDemo({
      births: 150,
      dataDir,
      seed: 13,
      // A fixed port, so that the producers' connections find the restarted server again.
      config: { nats: { port: await freePort() } },
      async afterPhase(phase, control) {
        if (phase === 'registrations') await control.restartHub();
        if (phase === 'IdNrs') await control.natsServer()?.restart();
        if (phase === 'withdrawals and corrections') {
          await control.natsServer()?.kill();
          await control.natsServer()?.restart();
        }
      },
    });
    expect(summary.problems).toEqual([]);
    expect(summary.audit.ok).toBe(true);
    expect(summary.acknowledged).toBe(summary.deliveries.elterngeldstelle + summary.deliveries.familienkasse);
  });

  it('restarting the hub, the nats-server and the connectors mid-run loses and duplicates nothing', async () => {
    const nats = await startTestNatsServer();
    try {
      const dataDir = tmp();
      const summary = await runDemo({
        births: 200,
        dataDir,
        seed: 11,
        config: { nats: { url: nats.url }, trust: { mode: 'keys' } },
        async afterPhase(phase, control) {
          if (phase === 'registrations') await control.restartHub();
          if (phase === 'IdNrs') await nats.restart();
          if (phase === 'withdrawals and corrections') {
            await nats.kill();
            await nats.restart();
            await control.restartHub();
          }
        },
      });
      expect(summary.problems).toEqual([]);
      expect(summary.audit.ok).toBe(true);
      expect(summary.acknowledged).toBe(summary.deliveries.elterngeldstelle + summary.deliveries.familienkasse);
    } finally {
      await nats.stop();
    }
  });
});
