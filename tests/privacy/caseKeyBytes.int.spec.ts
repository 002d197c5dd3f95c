// An erased case's key is gone from the key store's files, byte for byte: the database, its
// journal or WAL, whatever is beside it in `keys/`, read raw while the hub's log is still open
// and again after it closed. The keys of the cases that were not erased are found the same
// way, so the scan is known to see keys where they are.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCaseLog } from '../../hub/src/log/caseLog.ts';
import { openSqliteEventStore } from '../../hub/src/log/sqlite/sqliteEventStore.ts';
import { filesBelow } from '../support/scan.ts';

const holding = (dir: string, key: Buffer): string[] => filesBelow(dir).filter((f) => readFileSync(f).includes(key)).map((f) => path.basename(f));

describe('case key store after an erasure', () => {
  it('keeps no byte sequence of the erased case\'s key in any of its files, open or closed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'elfe-keybytes-'));
    const keysDir = path.join(dir, 'keys');
    const log = openCaseLog(openSqliteEventStore(path.join(dir, 'events.sqlite')), dir);
    const streams = Array.from({ length: 12 }, (_, i) => log.caseStream(`11007007-G-${i + 1}-2026`));
    // Cases begun at once and one after the other: keys in one commit and in commits of their own.
    await Promise.all(streams.slice(0, 6).map((s, i) => log.append(s, [{ eventId: `a${i}`, type: 'Noted', data: { i }, metadata: {} }])));
    for (const [i, s] of streams.slice(6).entries()) await log.append(s, [{ eventId: `b${i}`, type: 'Noted', data: { i }, metadata: {} }]);
    const keyOf = (s: string) => log.keys.keyOf(s.slice('birth-'.length))!;
    const keys = new Map(streams.map((s) => [s, Buffer.from(keyOf(s))]));
    for (const key of keys.values()) expect(holding(keysDir, key)).not.toEqual([]);

    const erased = [streams[2]!, streams[8]!];
    for (const s of erased) await log.erase(s, 'test');
    for (const s of erased) expect(holding(keysDir, keys.get(s)!), `${s} while open`).toEqual([]);
    for (const s of streams.filter((x) => !erased.includes(x))) expect(holding(keysDir, keys.get(s)!)).not.toEqual([]);
    // A case begun after the erasure does not bring the erased keys back from anywhere.
    await log.append(log.caseStream('11007007-G-99-2026'), [{ eventId: 'c1', type: 'Noted', data: {}, metadata: {} }]);
    await log.close();
    // Closed means closed by every connection, the writer thread's too: the WAL is checkpointed
    // into the file and removed, and nothing changes the files while they are read below.
    expect(readdirSync(keysDir).filter((f) => f.endsWith('-wal') || f.endsWith('-shm'))).toEqual([]);
    for (const s of erased) expect(holding(keysDir, keys.get(s)!), `${s} after close`).toEqual([]);
  });
});
