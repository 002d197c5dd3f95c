import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkpointBody, signCheckpoint } from './checkpoint.ts';
import { addSignatureLines, cosignCheckpoint, parseWitnessVerifierKey, verifyCosignature, witnessVerifierKey } from './cosignature.ts';
import { leafHash } from './merkle.ts';
import { formatAddCheckpointRequest, parseAddCheckpointRequest } from './witnessRequest.ts';

const log = generateKeyPairSync('ed25519');
const w = generateKeyPairSync('ed25519');
const checkpoint = { origin: 'elfe-hub/log', treeSize: 42, rootHash: leafHash(Buffer.from('x')) };
const note = signCheckpoint(checkpoint, 'elfe-hub/log', log.privateKey);
const verifier = () => {
  const v = parseWitnessVerifierKey(witnessVerifierKey('witness.example/w1', w.publicKey));
  if (!v.success) throw v.error;
  return v.data;
};

describe('C2SP cosignature/v1', () => {
  it('writes key ID ‖ 8-byte big-endian timestamp ‖ signature and verifies it', () => {
    const line = cosignCheckpoint(checkpointBody(checkpoint), 'witness.example/w1', w.privateKey, 1679315147);
    const blob = Buffer.from(line.trim().split(' ')[2]!, 'base64');
    expect(blob.length).toBe(76);
    expect(blob.subarray(0, 4)).toEqual(Buffer.from(verifier().keyHash));
    expect(blob.readBigUInt64BE(4)).toBe(1679315147n);
    const r = verifyCosignature(addSignatureLines(note, line), verifier());
    expect(r.success && r.data).toMatchObject({ timestamp: 1679315147, witness: 'witness.example/w1', checkpoint: { treeSize: 42 } });
  });

  it('the vkey carries type 0x04, unlike a log key', () => {
    expect(Buffer.from(witnessVerifierKey('w', w.publicKey).split('+').slice(2).join('+'), 'base64')[0]).toBe(4);
  });

  it('refuses an altered checkpoint, another witness key, and a missing cosignature', () => {
    const line = cosignCheckpoint(checkpointBody(checkpoint), 'witness.example/w1', w.privateKey, 1);
    const code = (n: string) => {
      const r = verifyCosignature(n, verifier());
      return r.success ? 'ok' : r.error.code;
    };
    expect(code(addSignatureLines(note, line).replace('\n42\n', '\n43\n'))).toBe('bad-signature');
    const other = generateKeyPairSync('ed25519');
    expect(code(addSignatureLines(note, cosignCheckpoint(checkpointBody(checkpoint), 'witness.example/w1', other.privateKey, 1)))).toBe('unknown-key');
    expect(code(note)).toBe('unknown-key');
    expect(code('nonsense')).toBe('malformed-note');
    expect(verifyCosignature(addSignatureLines(note, cosignCheckpoint(checkpointBody(checkpoint), 'witness.example/w1', w.privateKey, 2_000_000_000)), verifier(), { nowSeconds: 1_000_000_000 }).success).toBe(false);
  });
});

describe('tlog-witness add-checkpoint body', () => {
  it('round-trips and refuses malformed bodies', () => {
    const proof = [leafHash(Buffer.from('a')), leafHash(Buffer.from('b'))];
    const body = formatAddCheckpointRequest({ oldSize: 7, proof, note });
    const parsed = parseAddCheckpointRequest(body);
    expect(parsed.success && parsed.data).toEqual({ oldSize: 7, proof: proof.map((h) => Buffer.from(h)), note });
    for (const bad of ['', 'old 07\n\nx', 'old -1\n\nx', 'old 1\nnot base64\n\nx', 'old 1\n', `old 1\n${'AAAA\n'.repeat(2)}\nx`, `old 0\n${`${Buffer.alloc(32).toString('base64')}\n`.repeat(64)}\nx`]) {
      expect(parseAddCheckpointRequest(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
