// After a demo-like run (every party its own process), no personal data of any synthetic
// birth appears in plain text in the hub's directory: log (and its WAL), tree, cosignatures,
// nats store, key store.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../hub/src/config/config.ts';
import { runDemo } from '../../hub/src/demo/demo.ts';
import { makeScenarios } from '../../hub/src/demo/synthetic.ts';
import type { BirthRegisteredData } from '../../contracts/index.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { filesContaining } from '../support/scan.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

/** Names as the log would hold them in plain text: JSON strings (the quotes keep short names from matching base64 by chance). */
function namesOf(r: BirthRegisteredData): string[] {
  const people = [r.child.name, r.parent1.name, r.parent2?.name];
  return people.flatMap((n) => [...(n?.firstNames ?? []), ...(n?.familyName ? [n.familyName] : []), ...(n?.birthName ? [n.birthName] : [])]);
}

describe.skipIf(!natsAvailable)('no personal data in plain text after a demo run', () => {
  it('scans every file of the hub for every child\'s and parent\'s names and IdNrs', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'elfe-plaintext-'));
    const seed = 4242;
    const births = 8;
    const summary = await runDemo({ births, dataDir, seed });
    expect(summary.audit.ok).toBe(true);
    expect(summary.acknowledged).toBeGreaterThan(0);
    const scenarios = makeScenarios({ births, seed, standesaemter: parseConfig({}).standesaemter, firstEntry: 1 + (seed % 1000) * 10_000 });
    const names = new Set(scenarios.flatMap((s) => [...namesOf(s.registration), ...(s.correction ? namesOf(s.correction) : [])]));
    const needles = [...[...names].flatMap((n) => [`"${n}"`, `>${n}<`, ...(n.length >= 7 ? [n] : [])]), ...scenarios.flatMap((s) => [s.childIdNr, s.parent1IdNr])];
    expect(filesContaining(path.join(dataDir, 'hub'), needles)).toEqual([]);
  }, 300_000);
});
