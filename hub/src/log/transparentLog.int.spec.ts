import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseVerifierKey, signCheckpoint, verifyConsistencyProof, verifyInclusionProof } from '../../../contracts/index.ts';
import { generateKeyPairSync } from 'node:crypto';
import { describeEventStoreConformance, newEvent } from './conformance/eventStoreConformance.ts';
import { TransparentLog } from './transparentLog.ts';
import type { EventStore, ReadStreamOptions } from './eventStore.ts';
import { defaultOrigin, logFiles, openHubLog } from './openHubLog.ts';
import { openSqliteEventStore } from './sqlite/sqliteEventStore.ts';
import { checkpointStream } from './streams.ts';
import { loadOrCreateHubKey } from '../keys/keyDirectory.ts';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-tlog-'));
const never = { everyEntries: Number.MAX_SAFE_INTEGER, everyMs: 0 };

async function fill(log: TransparentLog, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => log.append(`case-${i % 7}`, [newEvent('E', { i, name: 'Zoë Ørsted' })])));
}

const verifierOf = (log: TransparentLog) => {
  const v = parseVerifierKey(log.verifierKey);
  if (!v.success) throw v.error;
  return v.data;
};

describeEventStoreConformance('transparent log over SQLite', {
  async open() {
    return openHubLog({ dataDir: tmp(), checkpoint: never });
  },
});

describe('transparent log', () => {
  it('signs a checkpoint every N entries, stored in the log itself', async () => {
    const log = await openHubLog({ dataDir: tmp(), checkpoint: { everyEntries: 10, everyMs: 0 } });
    for (let i = 0; i < 35; i++) await log.append('s', [newEvent()]);
    const sizes = (await log.checkpoints()).map((c) => c.treeSize);
    expect(sizes).toEqual([10, 21, 32]);
    expect(await log.size()).toBe(38);
    await log.close();
  });

  it('hashes a group commit\'s entries into the tree with one read of the store, and reads nothing for the appends it already covered', async () => {
    const dir = tmp();
    const store = openSqliteEventStore(path.join(dir, 'events.sqlite'));
    let pageReads = 0;
    const canonicalPages = store.canonicalPages.bind(store);
    store.canonicalPages = () => {
      const pages = canonicalPages()!;
      return { ...pages, readCanonicalPage: (from, max) => (pageReads++, pages.readCanonicalPage(from, max)) };
    };
    const log = await TransparentLog.open(store, { treeFile: logFiles(dir).tree, hubKey: loadOrCreateHubKey(dir), origin: defaultOrigin, checkpoint: never });
    const before = { reads: pageReads, commits: store.commits };
    await fill(log, 40);
    expect(log.treeSize).toBe(40);
    // 40 appends in a few group commits: at most one page read per commit (not two per append).
    expect(pageReads - before.reads).toBeLessThanOrEqual(store.commits - before.commits);
    await log.close();
  });

  it('signs a checkpoint after T milliseconds when entries arrived', async () => {
    const log = await openHubLog({ dataDir: tmp(), checkpoint: { everyEntries: 1000, everyMs: 30 } });
    await fill(log, 5);
    await new Promise((r) => setTimeout(r, 150));
    expect(log.latestCheckpoint()?.treeSize).toBe(5);
    await new Promise((r) => setTimeout(r, 100));
    expect(await log.checkpoints()).toHaveLength(1);
    await log.close();
  });

  it('hands out inclusion proofs that verify with the pure verifier; altered data or forged checkpoints do not', async () => {
    const log = await openHubLog({ dataDir: tmp(), checkpoint: never });
    await fill(log, 137);
    await log.checkpointNow();
    const verifier = verifierOf(log);
    for (const position of [0, 1, 64, 100, 136]) {
      const proof = await log.inclusionProof(position);
      expect(verifyInclusionProof(proof, verifier).success).toBe(true);
      const altered = { ...proof, entry: { ...proof.entry, data: { i: -1 } } };
      expect(verifyInclusionProof(altered, verifier)).toMatchObject({ success: false, error: { code: 'not-included' } });
    }
    const proof = await log.inclusionProof(5);
    const forger = generateKeyPairSync('ed25519');
    const forged = { ...proof, checkpoint: signCheckpoint({ origin: 'elfe-hub/log', treeSize: proof.treeSize, rootHash: Buffer.alloc(32) }, 'elfe-hub/log', forger.privateKey) };
    expect(verifyInclusionProof(forged, verifier)).toMatchObject({ success: false, error: { code: 'bad-checkpoint' } });
    await log.close();
  });

  it('proves that an older checkpoint is a prefix of a newer one', async () => {
    const log = await openHubLog({ dataDir: tmp(), checkpoint: never });
    await fill(log, 20);
    const first = await log.checkpointNow();
    await fill(log, 33);
    const second = await log.checkpointNow();
    const proof = await log.consistencyProof(first.treeSize, second.treeSize);
    expect(verifyConsistencyProof(proof, verifierOf(log)).success).toBe(true);
    const swapped = { ...proof, from: proof.to, to: proof.from };
    expect(verifyConsistencyProof(swapped, verifierOf(log)).success).toBe(false);
    await log.close();
  });

  it('resumes the tree from its frontier after a restart, without rehashing history', async () => {
    const dataDir = tmp();
    const log = await openHubLog({ dataDir, checkpoint: never });
    await fill(log, 500);
    const root = (await log.checkpointNow()).note;
    await log.close();
    const reopened = await openHubLog({ dataDir, checkpoint: never });
    expect(reopened.leavesHashed).toBe(0);
    expect(reopened.treeSize).toBe(501);
    expect(reopened.latestCheckpoint()?.note).toBe(root);
    await reopened.append('s', [newEvent()]);
    expect(reopened.leavesHashed).toBe(1);
    const proof = await reopened.inclusionProof(42);
    expect(verifyInclusionProof(proof, verifierOf(reopened)).success).toBe(true);
    await reopened.close();
  });
  it('a restart reads its latest checkpoint, not every checkpoint, and still proves against old ones', async () => {
    const dataDir = tmp();
    const log = await openHubLog({ dataDir, checkpoint: never });
    const sizes: number[] = [];
    for (let i = 0; i < 300; i++) {
      await log.append(`case-${i % 7}`, [newEvent('E', { i })]);
      sizes.push((await log.checkpointNow()).treeSize);
    }
    await log.close();
    const store = openSqliteEventStore(logFiles(dataDir).events);
    let checkpointEntriesRead = 0;
    const countingReads = (stream: string, options?: ReadStreamOptions) => {
      const inner = store.readStream(stream, options);
      return (async function* () {
        for await (const e of inner) {
          if (stream === checkpointStream) checkpointEntriesRead++;
          yield e;
        }
      })();
    };
    const counting = new Proxy(store, {
      get(target, prop) {
        if (prop === 'readStream') return countingReads;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as EventStore;
    const reopened = await TransparentLog.open(counting, { treeFile: logFiles(dataDir).tree, hubKey: loadOrCreateHubKey(dataDir), origin: defaultOrigin, checkpoint: never });
    expect(reopened.latestCheckpoint()?.treeSize).toBe(sizes.at(-1));
    // A search over the checkpoint stream's revisions: logarithmic in its length, not linear.
    expect(checkpointEntriesRead).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(sizes.length)) + 2);
    const proof = await reopened.consistencyProof(sizes[0]!, sizes[150]);
    expect(verifyConsistencyProof(proof, verifierOf(reopened)).success).toBe(true);
    const inclusion = await reopened.inclusionProof(3, sizes[7]);
    expect(inclusion.treeSize).toBe(sizes[7]);
    expect(verifyInclusionProof(inclusion, verifierOf(reopened)).success).toBe(true);
    await expect(reopened.consistencyProof(sizes[0]! + 1)).rejects.toMatchObject({ code: 'no-checkpoint' });
    expect((await reopened.checkpoints()).map((c) => c.treeSize)).toEqual(sizes);
    await reopened.close();
  });
});
