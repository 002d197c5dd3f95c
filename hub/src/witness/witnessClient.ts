// The hub's side of C2SP tlog-witness: submits a checkpoint with a consistency proof from the
// size the witness last cosigned, follows a 409 once or twice to the size the witness reports,
// and checks the returned cosignature with the witness's key before anyone stores it.
import {
  addSignatureLines,
  formatAddCheckpointRequest,
  parseTlogSize,
  parseWitnessVerifierKey,
  verifyCosignature,
  type CosignatureVerifier,
  type Hash,
} from '../../../contracts/index.ts';

export interface WitnessEndpoint {
  /** Submission prefix, e.g. `http://127.0.0.1:7380`; `/add-checkpoint` is appended. */
  readonly url: string;
  /** The witness's cosignature/v1 vkey. */
  readonly verifierKey: string;
}

export type WitnessRefusalCode =
  | 'unreachable'
  | 'malformed-request'
  | 'unknown-log'
  | 'bad-log-signature'
  | 'inconsistent'
  | 'fork'
  | 'witness-ahead'
  | 'bad-cosignature'
  | 'unexpected-answer';

export class WitnessRefusedError extends Error {
  override readonly name = 'WitnessRefusedError';
  constructor(
    readonly code: WitnessRefusalCode,
    message: string,
    readonly witness: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SubmitCheckpoint {
  readonly note: string;
  readonly treeSize: number;
  /** RFC 9162 consistency proof from `from` to `treeSize` (from the log's tree). */
  readonly consistencyPath: (from: number) => readonly Hash[];
}

export class WitnessClient {
  readonly endpoint: WitnessEndpoint;
  readonly verifier: CosignatureVerifier;
  readonly #timeoutMs: number;
  /** The size the witness last cosigned, as far as this client knows. */
  knownSize: number;

  constructor(endpoint: WitnessEndpoint, options: { knownSize?: number; timeoutMs?: number } = {}) {
    const verifier = parseWitnessVerifierKey(endpoint.verifierKey);
    if (!verifier.success) throw verifier.error;
    this.endpoint = endpoint;
    this.verifier = verifier.data;
    this.knownSize = options.knownSize ?? 0;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  get name(): string {
    return this.verifier.name;
  }

  /** Returns the witness's verified cosignature line(s), or throws a `WitnessRefusedError`. */
  async submit(checkpoint: SubmitCheckpoint): Promise<string> {
    let old = Math.min(this.knownSize, checkpoint.treeSize);
    for (let attempt = 0; attempt < 3; attempt++) {
      const proof = old === 0 || old === checkpoint.treeSize ? [] : checkpoint.consistencyPath(old);
      const response = await this.#post(formatAddCheckpointRequest({ oldSize: old, proof, note: checkpoint.note }));
      if (response.status === 200) {
        const cosigned = verifyCosignature(addSignatureLines(checkpoint.note, response.body), this.verifier);
        if (!cosigned.success) throw this.#refused('bad-cosignature', `the answer is not a valid cosignature: ${cosigned.error.message}`);
        this.knownSize = checkpoint.treeSize;
        const line = response.body.split('\n').find((l) => l.startsWith(`— ${this.verifier.name} `) && verifyCosignature(`${checkpoint.note}${l}\n`, this.verifier).success);
        return `${line}\n`;
      }
      if (response.status === 409) {
        const size = parseTlogSize(response.body);
        if (size === undefined) throw this.#refused('unexpected-answer', '409 without a tree size');
        this.knownSize = size;
        if (size > checkpoint.treeSize) throw this.#refused('witness-ahead', `the witness cosigned size ${size}, more than this checkpoint's ${checkpoint.treeSize}: the log lost entries or was rolled back`);
        if (size === old) throw this.#refused('fork', `the witness holds another root at size ${size}: the log forked`);
        old = size;
        continue;
      }
      const code: WitnessRefusalCode =
        response.status === 422 ? 'inconsistent' : response.status === 403 ? 'bad-log-signature' : response.status === 404 ? 'unknown-log' : response.status === 400 ? 'malformed-request' : 'unexpected-answer';
      throw this.#refused(code, `HTTP ${response.status}: ${response.body.trim().slice(0, 300)}`);
    }
    throw this.#refused('unexpected-answer', 'the witness kept answering 409');
  }

  #refused(code: WitnessRefusalCode, message: string, cause?: unknown): WitnessRefusedError {
    return new WitnessRefusedError(code, `witness ${this.verifier.name}: ${message}`, this.verifier.name, cause === undefined ? undefined : { cause });
  }

  async #post(body: string): Promise<{ status: number; body: string }> {
    const url = `${this.endpoint.url.replace(/\/+$/, '')}/add-checkpoint`;
    // A submission is safe to repeat (the witness decides from its state), so a connection lost
    // in transit, e.g. a kept-alive one closed by the server, is retried once.
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain; charset=utf-8' }, signal: AbortSignal.timeout(this.#timeoutMs) });
        const text = (await response.text()).slice(0, 64 * 1024);
        return { status: response.status, body: text };
      } catch (error) {
        if (attempt === 0) continue;
        const cause = (error as Error).cause;
        throw this.#refused('unreachable', `${url}: ${(error as Error).message}${cause instanceof Error ? ` (${cause.message})` : ''}`, error);
      }
    }
  }
}
