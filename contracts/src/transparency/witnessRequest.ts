// The request body of C2SP tlog-witness `add-checkpoint`: `old <size>\n`, up to 63 base64
// consistency-proof hashes one per line, an empty line, then the signed checkpoint note. Also
// the `text/x.tlog.size` body of a 409 answer. Both come from the other side of the network and
// are parsed strictly.
import { fail, ok, type Result } from '../result.ts';
import type { Hash } from './merkle.ts';

/** Most consistency-proof lines a client may send (tlog-witness). */
export const maxProofLines = 63;
export const tlogSizeContentType = 'text/x.tlog.size';

export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Hash[];
  /** The signed checkpoint note, verbatim. */
  readonly note: string;
}

export class WitnessRequestError extends Error {
  override readonly name = 'WitnessRequestError';
  readonly code = 'malformed-request';
}

const decimal = /^(0|[1-9][0-9]{0,15})$/;

/** Parses an ASCII decimal without leading zeros; undefined when not one or not a safe integer. */
export function parseTreeSize(text: string): number | undefined {
  if (!decimal.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function formatAddCheckpointRequest(request: AddCheckpointRequest): string {
  if (request.proof.length > maxProofLines) throw new RangeError(`at most ${maxProofLines} proof lines`);
  const proof = request.proof.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('');
  return `old ${request.oldSize}\n${proof}\n${request.note}`;
}

export function parseAddCheckpointRequest(text: string): Result<AddCheckpointRequest, WitnessRequestError> {
  const bad = (message: string) => fail(new WitnessRequestError(message));
  const firstEnd = text.indexOf('\n');
  if (firstEnd < 0 || !text.startsWith('old ')) return bad('the body starts with `old <size>`');
  const oldSize = parseTreeSize(text.slice(4, firstEnd));
  if (oldSize === undefined) return bad('old size is not a decimal without leading zeros');
  const proof: Hash[] = [];
  let at = firstEnd + 1;
  for (;;) {
    const end = text.indexOf('\n', at);
    if (end < 0) return bad('no empty line before the checkpoint');
    const line = text.slice(at, end);
    at = end + 1;
    if (line === '') break;
    if (proof.length === maxProofLines) return bad(`more than ${maxProofLines} consistency proof lines`);
    const hash = Buffer.from(line, 'base64');
    if (hash.length !== 32 || hash.toString('base64') !== line) return bad('a proof line is not one base64 SHA-256 hash');
    proof.push(hash);
  }
  const note = text.slice(at);
  if (note.length === 0) return bad('no checkpoint after the empty line');
  return ok({ oldSize, proof, note });
}

/** The body of a 409 answer: the witness's size and a newline. */
export function parseTlogSize(text: string): number | undefined {
  return text.endsWith('\n') ? parseTreeSize(text.slice(0, -1)) : undefined;
}
