// The audit's own Merkle tree, rebuilt leaf by leaf from the event store, and its comparison
// with the tree file written at append time. Comparing every leaf with the file costs a read
// per leaf; the file also stores every complete subtree, so a block of 1024 leaves is compared
// through its subtree hash, and only a block that differs is compared leaf by leaf. Its hashes
// are `HashText`s (32 latin1 characters), which cost no Buffer each.
import { hashText, nodeHashText, type Hash, type HashText } from '../../../contracts/index.ts';
import type { TreeStore } from '../log/merkle/treeStore.ts';

const blockLevel = 10;
const blockSize = 2 ** blockLevel;

export const same = (a: Hash, b: Hash): boolean => Buffer.compare(a, b) === 0;

export class ReplayTree {
  // #levels[k] holds the complete subtree of 2^k leaves still waiting for its right sibling.
  readonly #levels: (HashText | undefined)[] = [];
  readonly #appended: TreeStore | undefined;
  #size = 0;
  /** Leaves of the current, incomplete block. */
  #block: HashText[] = [];
  #firstMismatch: number | undefined;

  /** `appended`: the tree file written at append time, if there is one, used to locate a change. */
  constructor(appended: TreeStore | undefined) {
    this.#appended = appended;
  }

  get size(): number {
    return this.#size;
  }

  add(leaf: HashText): void {
    const position = this.#size++;
    if (this.#firstMismatch === undefined && this.#appended) this.#block.push(leaf);
    let hash = leaf;
    let level = 0;
    for (let left = this.#levels[0]; left; left = this.#levels[++level]) {
      hash = nodeHashText(left, hash);
      this.#levels[level] = undefined;
      if (level + 1 === blockLevel) this.#completeBlock(position + 1 - blockSize, hash);
    }
    this.#levels[level] = hash;
  }

  /** Root of the leaves added so far. */
  root(): HashText {
    // The smallest subtree is the rightmost: fold from it towards the largest.
    let root: HashText | undefined;
    for (const subtree of this.#levels) if (subtree) root = root ? nodeHashText(subtree, root) : subtree;
    return root!;
  }

  /** The first position, among the leaves added so far, whose leaf differs from the tree file's. */
  firstMismatch(): number | undefined {
    if (this.#firstMismatch === undefined) this.#compareLeaves(this.#size - this.#block.length, this.#block);
    return this.#firstMismatch;
  }

  /** A block of leaves from `start` is complete, with subtree hash `hash`. */
  #completeBlock(start: number, hash: HashText): void {
    const leaves = this.#block;
    this.#block = [];
    const appended = this.#appended;
    if (!appended || this.#firstMismatch !== undefined || start >= appended.size) return;
    if (appended.size >= start + blockSize && hashText(appended.node(blockLevel, start / blockSize)) === hash) return;
    this.#compareLeaves(start, leaves);
  }

  #compareLeaves(start: number, leaves: readonly HashText[]): void {
    const appended = this.#appended;
    if (!appended || start >= appended.size || leaves.length === 0) return;
    const recorded = appended.leaves(start, Math.min(start + leaves.length, appended.size));
    const at = recorded.findIndex((hash, i) => hashText(hash) !== leaves[i]);
    if (at >= 0) this.#firstMismatch = start + at;
  }
}
