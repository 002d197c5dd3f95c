import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openCheckpoint, parseVerifierKey, signCheckpoint, verifierKey } from './checkpoint.ts';
import { leafHash } from './merkle.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const checkpoint = { origin: 'elfe-hub.example/log', treeSize: 42, rootHash: leafHash(Buffer.from('x')), time: '2026-11-24T12:00:00.000Z' };

describe('C2SP signed checkpoints', () => {
  it('writes the tlog-checkpoint body and a signed-note signature line', () => {
    const note = signCheckpoint(checkpoint, 'elfe-hub.example/log', privateKey);
    const lines = note.split('\n');
    expect(lines.slice(0, 5)).toEqual(['elfe-hub.example/log', '42', Buffer.from(checkpoint.rootHash).toString('base64'), 'time 2026-11-24T12:00:00.000Z', '']);
    expect(lines[5]).toMatch(/^— elfe-hub\.example\/log [A-Za-z0-9+/]{91}=$/);
  });

  it('verifies with the verifier key string and returns the content', () => {
    const note = signCheckpoint(checkpoint, 'elfe-hub.example/log', privateKey);
    const verifier = parseVerifierKey(verifierKey('elfe-hub.example/log', publicKey));
    if (!verifier.success) throw verifier.error;
    const opened = openCheckpoint(note, verifier.data);
    expect(opened.success && opened.data).toEqual(checkpoint);
  });

  it('refuses altered notes, other keys and malformed notes', () => {
    const note = signCheckpoint(checkpoint, 'elfe-hub.example/log', privateKey);
    const verifier = parseVerifierKey(verifierKey('elfe-hub.example/log', publicKey));
    if (!verifier.success) throw verifier.error;
    const code = (n: string) => {
      const r = openCheckpoint(n, verifier.data);
      return r.success ? 'accepted' : r.error.code;
    };
    expect(code(note.replace('\n42\n', '\n43\n'))).toBe('bad-signature');
    const other = generateKeyPairSync('ed25519');
    expect(code(signCheckpoint(checkpoint, 'elfe-hub.example/log', other.privateKey))).toBe('unknown-key');
    expect(code('garbage')).toBe('malformed-note');
    expect(code(note.replace('— ', '-- '))).toBe('malformed-note');
  });

  it('refuses a verifier key whose hash does not match', () => {
    const key = verifierKey('a', publicKey).replace(/\+[0-9a-f]{8}\+/, '+00000000+');
    expect(parseVerifierKey(key).success).toBe(false);
  });
});
