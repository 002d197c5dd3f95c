// The witness's decision for one `add-checkpoint` request (C2SP tlog-witness), as a short
// pipeline of named steps, each with its HTTP status: parse (400), known origin (404), log
// signature (403), old size not above the checkpoint (400), old size equal to what it last
// cosigned (409 with its size), same size means same root (409), consistency proof (422),
// then persist and cosign (200). Check and persist run under one lock, so two requests can
// never roll the recorded size back.
import {
  cosignCheckpoint,
  emptyRoot,
  openCheckpoint,
  parseAddCheckpointRequest,
  parseCheckpointBody,
  splitNote,
  tlogSizeContentType,
  verifyConsistency,
  type NoteVerifier,
} from '../../../contracts/index.ts';
import type { WitnessKey } from './witnessKey.ts';
import type { WitnessState } from './witnessState.ts';

export interface WitnessResponse {
  readonly status: 200 | 400 | 403 | 404 | 409 | 422;
  readonly contentType: string;
  readonly body: string;
  /** Why, for the witness's own log line (never sent as the 200 body). */
  readonly reason: string;
  readonly origin?: string;
}

export interface WitnessOptions {
  readonly key: WitnessKey;
  /** The logs it witnesses: their checkpoint verifiers; the key name is the origin. */
  readonly logs: readonly NoteVerifier[];
  readonly state: WitnessState;
  readonly now?: () => Date;
}

const text = (status: WitnessResponse['status'], reason: string, origin?: string): WitnessResponse => ({
  status,
  contentType: 'text/plain; charset=utf-8',
  body: `${reason}\n`,
  reason,
  ...(origin !== undefined ? { origin } : {}),
});

export class Witness {
  readonly #options: WitnessOptions;
  readonly #now: () => Date;
  #lock: Promise<unknown> = Promise.resolve();

  constructor(options: WitnessOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  addCheckpoint(body: string): Promise<WitnessResponse> {
    const run = this.#lock.then(() => this.#decide(body));
    this.#lock = run.catch(() => undefined);
    return run;
  }

  #decide(body: string): WitnessResponse {
    const request = parseAddCheckpointRequest(body);
    if (!request.success) return text(400, request.error.message);
    const { oldSize, proof, note } = request.data;
    const split = splitNote(note);
    const checkpoint = split && parseCheckpointBody(split.body);
    if (!split || !checkpoint) return text(400, 'the checkpoint is not a signed tlog-checkpoint note');
    const { origin } = checkpoint;
    const verifier = this.#options.logs.find((l) => l.name === origin);
    if (!verifier) return text(404, `unknown log origin ${JSON.stringify(origin)}`);
    const signed = openCheckpoint(note, verifier);
    if (!signed.success) return signed.error.code === 'malformed-note' ? text(400, signed.error.message, origin) : text(403, `log signature: ${signed.error.message}`, origin);
    if (oldSize > checkpoint.treeSize) return text(400, `old size ${oldSize} is above the checkpoint size ${checkpoint.treeSize}`, origin);

    const known = this.#options.state.get(origin);
    const knownSize = known?.size ?? 0;
    if (oldSize !== knownSize) {
      return { status: 409, contentType: tlogSizeContentType, body: `${knownSize}\n`, reason: `old size ${oldSize} is not the cosigned size ${knownSize}`, origin };
    }
    const root = Buffer.from(checkpoint.rootHash).toString('base64');
    if (checkpoint.treeSize === knownSize) {
      const knownRoot = known?.rootHash ?? Buffer.from(emptyRoot).toString('base64');
      if (root !== knownRoot || proof.length > 0) {
        return { status: 409, contentType: tlogSizeContentType, body: `${knownSize}\n`, reason: `FORK: size ${knownSize} with another root than the one cosigned`, origin };
      }
    } else {
      const oldRoot = known ? Buffer.from(known.rootHash, 'base64') : emptyRoot;
      if (!verifyConsistency(oldSize, checkpoint.treeSize, proof, oldRoot, checkpoint.rootHash)) {
        return text(422, `INCONSISTENT: the tree of size ${checkpoint.treeSize} does not extend the cosigned tree of size ${oldSize}`, origin);
      }
    }
    this.#options.state.put(origin, { size: checkpoint.treeSize, rootHash: root, note: `${split.body}\n${split.signatures.map((s) => s.line).join('\n')}\n` });
    const line = cosignCheckpoint(split.body, this.#options.key.name, this.#options.key.privateKey, Math.floor(this.#now().getTime() / 1000));
    return { status: 200, contentType: 'text/plain; charset=utf-8', body: line, reason: `cosigned size ${checkpoint.treeSize}`, origin };
  }
}
