import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { hashOfText, hashText, leafHash, rootOfLeafHashes, type HashText } from '../../../contracts/index.ts';
import { TreeStore } from '../log/merkle/treeStore.ts';
import { ReplayTree } from './replayTree.ts';

const leavesOf = (n: number, salt = 'log') => Array.from({ length: n }, (_, i) => hashText(leafHash(Buffer.from(`${salt}:${i}`))));
const hex = (h: HashText) => Buffer.from(h, 'latin1').toString('hex');

const opened: TreeStore[] = [];
function treeFileOf(leaves: readonly HashText[]): TreeStore {
  const tree = new TreeStore(':memory:');
  tree.append(leaves.map(hashOfText));
  opened.push(tree);
  return tree;
}
afterEach(() => opened.splice(0).forEach((t) => t.close()));

describe('the replay tree', () => {
  it('has the RFC 9162 root at every size', () => {
    const leaves = leavesOf(1100);
    const replayed = new ReplayTree(undefined);
    leaves.forEach((leaf, i) => {
      replayed.add(leaf);
      if (i < 70 || [127, 128, 1023, 1024, 1025, 1099].includes(i)) expect(hex(replayed.root()), `size ${i + 1}`).toBe(hex(hashText(rootOfLeafHashes(leaves.slice(0, i + 1).map(hashOfText)))));
    });
  });

  it('names the first leaf that differs from the tree file, inside and across blocks of 1024, whenever asked', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 0, max: 2999 }), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 3000 }), (size, at, fileSize, askAt) => {
        const altered = at % size;
        const leaves = leavesOf(size);
        const file = treeFileOf(leaves.slice(0, Math.min(fileSize, size)));
        const replayed = new ReplayTree(file);
        const ask = askAt % (size + 1);
        leaves.forEach((leaf, i) => {
          if (i === ask) expect(replayed.firstMismatch()).toBe(altered < Math.min(i, file.size) ? altered : undefined);
          replayed.add(i === altered ? hashText(leafHash(Buffer.from('altered'))) : leaf);
        });
        expect(replayed.firstMismatch()).toBe(altered < file.size ? altered : undefined);
      }),
      { numRuns: 60 },
    );
  });

  it('finds nothing when the log matches the tree file', () => {
    const leaves = leavesOf(2100);
    const replayed = new ReplayTree(treeFileOf(leaves));
    for (const leaf of leaves) replayed.add(leaf);
    expect(replayed.firstMismatch()).toBeUndefined();
  });
});
