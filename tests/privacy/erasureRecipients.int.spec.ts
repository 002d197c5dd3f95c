// Who is told of an erasure: `CaseLog.erase` reads the recipients of the case's deliveries
// while the case still opens and records them (offices and delivery ids) in CaseErased; a
// delivery being appended as the erasure begins lands first and is counted, nothing is added
// after; the running scheduler then logs one erasure notice per recipient. Real log and key
// store files.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hubDerivedUuid, type DeliveryScheduled } from '../../contracts/index.ts';
import { sampleBirthRegistration } from '../../contracts/src/testing/sampleBirth.ts';
import { CaseErasedError, openCaseLog } from '../../hub/src/log/caseLog.ts';
import { logFiles, openHubLog } from '../../hub/src/log/openHubLog.ts';
import { fromRecord, toRecord } from '../../hub/src/log/records.ts';
import { registered, testRoutingTable } from '../../hub/src/routing/testing.ts';
import { startScheduler } from '../../hub/src/scheduler/scheduler.ts';
import { collect } from '../../hub/src/log/conformance/eventStoreConformance.ts';
import { until } from '../support/processes.ts';

describe('the recipients of an erased case', () => {
  it('are read before the key goes, include a delivery appended as the erasure begins, and each gets a notice', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'elfe-erasure-recipients-'));
    const raw = await openHubLog({ dataDir, checkpoint: { everyEntries: 1_000_000, everyMs: 0 } });
    const log = openCaseLog(raw, dataDir);
    const scheduler = startScheduler({ log, table: testRoutingTable });
    const birth = registered(sampleBirthRegistration({ registerKey: { standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: 'T1' } as never }));
    const stream = log.caseStream(birth.data.registerKey);
    await log.append(stream, [toRecord(birth)]);
    await until(() => scheduler.stats.scheduled >= 1, { what: 'the case handed off', timeoutMs: 10_000 });
    const first = (await collect(log.readStream(stream))).map(fromRecord).find((e): e is DeliveryScheduled => e?.type === 'DeliveryScheduled')!;

    // A second hand-off (to another recipient) still being appended when the erasure begins.
    const lateId = hubDerivedUuid('delivery', 'late-hand-off');
    const late: DeliveryScheduled = { ...first, messageId: lateId, data: { ...first.data, deliveryId: lateId, recipient: { role: 'familienkasse', dvdv: 'fka:ost' as never, name: 'Familienkasse Ost' } } };
    const appending = log.append(stream, [toRecord(late)]);
    const erasing = log.erase(stream, 'Art. 17 DSGVO: Löschung auf Antrag');
    // Nothing is added once the erasure began.
    await expect(log.append(stream, [toRecord({ ...late, messageId: hubDerivedUuid('delivery', 'too-late'), data: { ...late.data, deliveryId: hubDerivedUuid('delivery', 'too-late') } })])).rejects.toBeInstanceOf(CaseErasedError);
    await appending;
    const done = (await erasing)!;

    const caseErased = fromRecord((await collect(log.readStream(stream))).find((e) => e.type === 'CaseErased')!);
    expect(caseErased?.type === 'CaseErased' && caseErased.data.recipients).toEqual([
      { role: first.data.recipient.role, dvdv: first.data.recipient.dvdv, name: first.data.recipient.name, deliveryIds: [first.data.deliveryId] },
      { role: 'familienkasse', dvdv: 'fka:ost', name: 'Familienkasse Ost', deliveryIds: [lateId] },
    ]);
    await until(() => scheduler.stats.erasureNotices === 2, { what: 'both recipients sent a notice', timeoutMs: 10_000 });
    const notices = (await collect(log.readStream(`erasure-${done.caseId}`))).map(fromRecord);
    expect(notices.map((n) => n?.type === 'ErasureNoticeScheduled' && [n.data.recipient.dvdv, n.data.deliveryIds])).toEqual([
      [first.data.recipient.dvdv, [first.data.deliveryId]],
      ['fka:ost', [lateId]],
    ]);
    await scheduler.stop();
    await log.close();
    // Nothing of the case in clear in the log file, notices included.
    expect(readFileSync(logFiles(dataDir).events).includes(Buffer.from('Müller-Lüdenscheidt'))).toBe(false);
  });
});
