// C2SP tlog-tiles over the hub's Merkle tree: `/tile/<L>/<N>[.p/<W>]` (hashes of level 8·L,
// 256 per tile) and `/tile/entries/<N>[.p/<W>]` (entry bundles: uint16 length + entry bytes,
// the bytes whose SHA-256(0x00 ‖ bytes) is the leaf). Served up to the latest checkpoint.
import { logEntryBytes } from '../../../contracts/index.ts';
import type { EventStore } from '../log/eventStore.ts';

export const tileWidth = 256;

/** Parses `x001/x234/067` into 1234067; undefined when malformed or not canonical (a leading `x000/`). */
export function parseTileIndex(parts: readonly string[]): number | undefined {
  if (parts.length === 0 || parts.length > 7) return undefined;
  if (parts.length > 1 && parts[0] === 'x000') return undefined;
  let n = 0;
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const m = (last ? /^(\d{3})$/ : /^x(\d{3})$/).exec(parts[i]!);
    if (!m) return undefined;
    n = n * 1000 + Number(m[1]);
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

export interface TilePath {
  readonly level: number | 'entries';
  readonly index: number;
  /** Partial width 1..255, or 256 for a full tile. */
  readonly width: number;
}

/**
 * `L/x001/234[.p/W]` or `entries/…` as a tile; undefined when not a tile path in its canonical
 * C2SP form: L 0–63 and W 1–255 without leading zeroes, N without a leading `x000/` element.
 */
export function parseTilePath(rest: string): TilePath | undefined {
  const m = /^(entries|0|[1-9]\d?)\/((?:x\d{3}\/)*\d{3})(?:\.p\/([1-9]\d{0,2}))?$/.exec(rest);
  if (!m) return undefined;
  const index = parseTileIndex(m[2]!.split('/'));
  const width = m[3] === undefined ? tileWidth : Number(m[3]);
  if (index === undefined || width < 1 || width > tileWidth || (m[3] !== undefined && width === tileWidth)) return undefined;
  const level = m[1] === 'entries' ? 'entries' : Number(m[1]);
  if (level !== 'entries' && level > 63) return undefined;
  return { level, index, width };
}

/** Hashes of the tile, from stored complete subtrees; undefined when the checkpoint does not cover it. */
export function hashTile(tile: TilePath & { level: number }, treeSize: number, node: (level: number, index: number) => Uint8Array): Buffer | undefined {
  const nodeLevel = tile.level * 8;
  const available = Math.floor(treeSize / 2 ** nodeLevel);
  const first = tile.index * tileWidth;
  if (first + tile.width > available) return undefined;
  return Buffer.concat(Array.from({ length: tile.width }, (_, i) => node(nodeLevel, first + i)));
}

/** An entry bundle; undefined when not covered, `too-large` when an entry exceeds 65535 bytes. */
export async function entryBundle(tile: TilePath, treeSize: number, log: EventStore): Promise<Buffer | undefined | 'too-large'> {
  const first = tile.index * tileWidth;
  if (first + tile.width > treeSize) return undefined;
  const parts: Buffer[] = [];
  for await (const e of log.readAll({ fromPosition: first, maxCount: tile.width })) {
    const bytes = logEntryBytes(e);
    if (bytes.length > 0xffff) return 'too-large';
    const len = Buffer.alloc(2);
    len.writeUInt16BE(bytes.length);
    parts.push(len, Buffer.from(bytes));
  }
  return Buffer.concat(parts);
}
