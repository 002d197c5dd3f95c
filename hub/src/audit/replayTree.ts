// The audit's own Merkle tree, rebuilt leaf by leaf from the event store, and its comparison
// with the tree file written at append time. Comparing every leaf with the file costs a read
// per leaf; the file also stores every complete subtree, so a block of 1024 leaves is compared
// through its subtree hash, and only a block that differs is compared leaf by leaf.
import { nodeHash, type Hash } from '../../../contracts/index.ts';
import type { TreeStore } from '../log/merkle/treeStore.ts';

const blockLevel = 10;
const blockSize = 2 ** blockLevel;

export const same = (a: Hash, b: Hash): boolean => Buffer.compare(a, b) === 0;

export class ReplayTree {
  // #levels[k] holds the complete subtree of 2^k leaves still waiting for its right sibling.
  readonly #levels: (Hash | undefined)[] = [];
  readonly #appended: TreeStore | undefined;
  #size = 0;
  /** Leaves of the current, incomplete block. */
  #block: Hash[] = [];
  #firstMismatch: number | undefined;

  /** `appended`: the tree file written at append time, if there is one, used to locate a change. */
  constructor(appended: TreeStore | undefined) {
    this.#appended = appended;
  }

  get size(): number {
    return this.#size;
  }

  add(leaf: Hash): void {
    const position = this.#size++;
    if (this.#firstMismatch === undefined && this.#appended) this.#block.push(leaf);
    let hash = leaf;
    let level = 0;
    for (let left = this.#levels[0]; left; left = this.#levels[++level]) {
      hash = nodeHash(left, hash);
      this.#levels[level] = undefined;
      if (level + 1 === blockLevel) this.#completeBlock(position + 1 - blockSize, hash);
    }
    this.#levels[level] = hash;
  }

  /** Root of the leaves added so far. */
  root(): Hash {
    // The smallest subtree is the rightmost: fold from it towards the largest.
    let root: Hash | undefined;
    for (const subtree of this.#levels) if (subtree) root = root ? nodeHash(subtree, root) : subtree;
    return root!;
  }

  /** The first position, among the leaves added so far, whose leaf differs from the tree file's. */
  firstMismatch(): number | undefined {
    if (this.#firstMismatch === undefined) this.#compareLeaves(this.#size - this.#block.length, this.#block);
    return this.#firstMismatch;
  }

  /** A block of leaves from `start` is complete, with subtree hash `hash`. */
  #completeBlock(start: number, hash: Hash): void {
    const leaves = this.#block;
    this.#block = [];
    const appended = this.#appended;
    if (!appended || this.#firstMismatch !== undefined || start >= appended.size) return;
    if (appended.size >= start + blockSize && same(appended.node(blockLevel, start / blockSize), hash)) return;
    this.#compareLeaves(start, leaves);
  }

  #compareLeaves(start: number, leaves: readonly Hash[]): void {
    const appended = this.#appended;
    if (!appended || start >= appended.size || leaves.length === 0) return;
    const recorded = appended.leaves(start, Math.min(start + leaves.length, appended.size));
    const at = recorded.findIndex((hash, i) => !same(hash, leaves[i]!));
    if (at >= 0) this.#firstMismatch = start + at;
  }
}
