// Thousands of mutated documents: the codec must never throw, and every result is either
// a valid contract or a typed error with a code and a path.
import { describe, expect, it } from 'vitest';
import { BirthRegisteredDataSchema, GeburtenregisterKeySchema, joinBirth, readBirthMessage, XmlCodecError, type BirthMessage } from '../../contracts/index.ts';
import { fixture, fixturesAvailable } from '../support/fixtures.ts';
import { prng } from '../../hub/src/demo/synthetic.ts';


const noise = ['<', '>', '&', '&amp;', '&#0;', '\u0000', ']]>', '<!DOCTYPE x>', '<!ENTITY e "x">', '<xp:x>', '</xp:kind>', '"', '\uD800', 'ä', '2026-02-30', '<![CDATA[x]]>', '<!-- c -->', 'xmlns:xp="urn:x"'];

function mutate(doc: string, random: () => number): string {
  const pick = (n: number) => Math.floor(random() * n);
  const rounds = 1 + pick(3);
  let out = doc;
  for (let r = 0; r < rounds; r++) {
    const at = pick(out.length);
    switch (pick(6)) {
      case 0: // replace one character
        out = out.slice(0, at) + String.fromCharCode(32 + pick(95)) + out.slice(at + 1);
        break;
      case 1: // truncate
        out = out.slice(0, at);
        break;
      case 2: { // delete an element
        const tags = [...out.matchAll(/<(xp:[\w.]+)>[\s\S]*?<\/\1>/g)];
        const m = tags[pick(tags.length)];
        if (m) out = out.replace(m[0], '');
        break;
      }
      case 3: { // duplicate an element
        const tags = [...out.matchAll(/<(xp:[\w.]+)>[\s\S]*?<\/\1>/g)];
        const m = tags[pick(tags.length)];
        if (m) out = out.replace(m[0], m[0] + m[0]);
        break;
      }
      case 4: // insert noise
        out = out.slice(0, at) + noise[pick(noise.length)]! + out.slice(at);
        break;
      default: { // replace a text value
        const texts = [...out.matchAll(/>([^<>\s][^<>]*)</g)];
        const m = texts[pick(texts.length)];
        if (m && m.index !== undefined) out = out.slice(0, m.index + 1) + noise[pick(noise.length)]! + out.slice(m.index + 1 + m[1]!.length);
      }
    }
  }
  return out;
}

const key = GeburtenregisterKeySchema.parse({ standesamtsnummer: '11007007', registerart: 'G', jahr: 2026, eintragsnummer: '334' });

function checkContract(message: BirthMessage, other: BirthMessage | undefined): void {
  const notice = message.kind === '081020' ? message : other?.kind === '081020' ? other : undefined;
  const supplement = message.kind === '081021' ? message : other?.kind === '081021' ? other : undefined;
  if (!notice) return;
  const joined = joinBirth(notice, supplement, key);
  if (joined.success) expect(BirthRegisteredDataSchema.safeParse(joined.data).success).toBe(true);
  else expect(joined.error).toBeInstanceOf(XmlCodecError);
}

describe.skipIf(!fixturesAvailable)('codec fuzzing', () => {
  const seeds = [
    'examples/portal2StA.Geburt.081020.xml',
    'examples/portal2StA.Geburt.081021.xml',
    'samples/Portal2StAGeburt081020.xml',
    'samples/Portal2StAGeburt081020_xpsw2511.xml',
  ].map(fixture);
  const counterpart = readBirthMessage(fixture('examples/portal2StA.Geburt.081021.xml'));

  it('handles 4000 mutated documents with a contract or a typed error each', () => {
    const random = prng(20261124);
    const outcomes = { accepted: 0, refused: new Map<string, number>() };
    for (let i = 0; i < 4000; i++) {
      const doc = mutate(seeds[i % seeds.length]!, random);
      const r = readBirthMessage(doc);
      if (r.success) {
        outcomes.accepted++;
        checkContract(r.data, counterpart.success ? counterpart.data : undefined);
      } else {
        expect(r.error).toBeInstanceOf(XmlCodecError);
        expect(r.error.code).toMatch(/^[a-z-]+$/);
        expect(r.error.path.startsWith('/')).toBe(true);
        outcomes.refused.set(r.error.code, (outcomes.refused.get(r.error.code) ?? 0) + 1);
      }
    }
    // Both outcomes occur: the mutator is neither too gentle nor always fatal.
    expect(outcomes.accepted).toBeGreaterThan(100);
    expect([...outcomes.refused.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);
    expect(outcomes.refused.size).toBeGreaterThan(4);
  });
});
