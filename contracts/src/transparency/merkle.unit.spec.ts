import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  consistencyPath,
  emptyRoot,
  hashOfText,
  hashText,
  inclusionPath,
  leafHash,
  leafHashOfText,
  leafHashTextOfText,
  nodeHash,
  nodeHashText,
  rangeHasherOf,
  rootOfLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

// The reference vectors of Certificate Transparency (RFC 6962 test data, as carried by the
// certificate-transparency and trillian test suites).
const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => leafHash(Buffer.from(h, 'hex')));
const roots = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const hex = (h: Uint8Array) => Buffer.from(h).toString('hex');
const unhex = (h: string) => Buffer.from(h, 'hex');
const root = (n: number) => rootOfLeafHashes(leaves.slice(0, n));
const tree = rangeHasherOf(leaves);

describe('RFC 6962 reference vectors', () => {
  it('empty tree is the hash of nothing', () => {
    expect(hex(emptyRoot)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it.each(roots.map((r, i) => [i + 1, r] as const))('root of %i leaves', (n, expected) => {
    expect(hex(root(n))).toBe(expected);
  });

  it('inclusion proofs for leaves 0 and 5 of 8', () => {
    const p0 = ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'];
    const p5 = ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'];
    expect(inclusionPath(0, 8, tree).map(hex)).toEqual(p0);
    expect(inclusionPath(5, 8, tree).map(hex)).toEqual(p5);
    expect(verifyInclusion(leaves[0]!, 0, 8, p0.map(unhex), unhex(roots[7]!))).toBe(true);
    expect(verifyInclusion(leaves[5]!, 5, 8, p5.map(unhex), unhex(roots[7]!))).toBe(true);
    expect(verifyInclusion(leaves[5]!, 4, 8, p5.map(unhex), unhex(roots[7]!))).toBe(false);
  });

  it('consistency proofs 1→8, 6→8 and 2→5', () => {
    const c18 = ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'];
    const c68 = ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'];
    const c25 = ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'];
    expect(consistencyPath(1, 8, tree).map(hex)).toEqual(c18);
    expect(consistencyPath(6, 8, tree).map(hex)).toEqual(c68);
    expect(consistencyPath(2, 5, rangeHasherOf(leaves.slice(0, 5))).map(hex)).toEqual(c25);
    expect(verifyConsistency(1, 8, c18.map(unhex), root(1), root(8))).toBe(true);
    expect(verifyConsistency(6, 8, c68.map(unhex), root(6), root(8))).toBe(true);
    expect(verifyConsistency(2, 5, c25.map(unhex), root(2), root(5))).toBe(true);
    expect(verifyConsistency(6, 8, c68.map(unhex), root(5), root(8))).toBe(false);
  });
});

describe('proofs for random trees', () => {
  const leavesOf = (n: number, salt: number) => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`${salt}:${i}`)));

  it('every inclusion proof verifies, and fails for another leaf, index or root', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), fc.nat(), (n, seed, pick) => {
        const ls = leavesOf(n, seed);
        const hasher = rangeHasherOf(ls);
        const r = rootOfLeafHashes(ls);
        const i = pick % n;
        const path = inclusionPath(i, n, hasher);
        expect(verifyInclusion(ls[i]!, i, n, path, r)).toBe(true);
        if (n > 1) {
          const j = (i + 1) % n;
          expect(verifyInclusion(ls[j]!, i, n, path, r)).toBe(false);
          expect(verifyInclusion(ls[i]!, j, n, path, r)).toBe(false);
        }
        expect(verifyInclusion(ls[i]!, i, n, path, leafHash(Buffer.from('forged root')))).toBe(false);
        if (path.length > 0) {
          const tampered = path.map((h, k) => (k === pick % path.length ? leafHash(h) : h));
          expect(verifyInclusion(ls[i]!, i, n, tampered, r)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every consistency proof verifies, and fails when the old tree was rewritten', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), fc.nat(), (n, seed, pick) => {
        const ls = leavesOf(n, seed);
        const m = 1 + (pick % n);
        const path = consistencyPath(m, n, rangeHasherOf(ls));
        const oldRoot = rootOfLeafHashes(ls.slice(0, m));
        expect(verifyConsistency(m, n, path, oldRoot, rootOfLeafHashes(ls))).toBe(true);
        const rewritten = [...ls.slice(0, m - 1), leafHash(Buffer.from('rewritten'))];
        if (m < n) expect(verifyConsistency(m, n, path, rootOfLeafHashes(rewritten), rootOfLeafHashes(ls))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('nodeHash', () => {
  it('is SHA-256(0x01 ‖ left ‖ right), each result its own buffer', () => {
    const reference = (l: Uint8Array, r: Uint8Array) => createHash('sha256').update(Uint8Array.of(1)).update(l).update(r).digest();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b, c) => {
        const ab = nodeHash(a, b);
        const bc = nodeHash(b, c);
        expect(Buffer.from(ab)).toEqual(reference(a, b));
        expect(Buffer.from(bc)).toEqual(reference(b, c));
      }),
    );
    const short = Uint8Array.of(7);
    expect(Buffer.from(nodeHash(short, leafHash(short)))).toEqual(reference(short, leafHash(short)));
  });
});

describe('hashes as text (HashText, the audit\'s replay)', () => {
  const bytes = fc.uint8Array({ minLength: 32, maxLength: 32 });
  it('carry every byte: text and bytes convert both ways unchanged', () => {
    fc.assert(
      fc.property(bytes, (h) => {
        expect(Buffer.from(hashOfText(hashText(h)))).toEqual(Buffer.from(h));
      }),
    );
    expect(hashText(Uint8Array.from({ length: 32 }, (_, i) => 255 - i))).toHaveLength(32);
  });

  it('give the same nodes as nodeHash, for any bytes (0x00, 0x80–0xff included)', () => {
    fc.assert(
      fc.property(bytes, bytes, (a, b) => {
        expect(Buffer.from(hashOfText(nodeHashText(hashText(a), hashText(b))))).toEqual(Buffer.from(nodeHash(a, b)));
      }),
    );
  });

  it('give the same leaves as leafHashOfText, for any text (beyond the BMP, U+0000, lone surrogates)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(Buffer.from(hashOfText(leafHashTextOfText(text)))).toEqual(Buffer.from(leafHashOfText(text)));
      }),
    );
    expect(hex(hashOfText(leafHashTextOfText('')))).toBe(hex(leaves[0]!));
  });
});
