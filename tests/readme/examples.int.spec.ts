// The sample birth pairs in examples/, which the README's walkthrough uses: valid against the
// official XPersonenstand 26.11 schema, they join into one registration of 11007007/G/2026/334,
// and the hub's default routing sends it where the README says (the Elterngeldstelle Berlin,
// the Familienkasse Berlin-Brandenburg, the Meldebehörde mbh:demo).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRegisterKey } from '../../contracts/index.ts';
import { joinedRegistration } from '../../connectors/standesamt/src/messages.ts';
import { parseConfig } from '../../hub/src/config/config.ts';
import { resolveRecipients, responsibleMeldebehoerde } from '../../hub/src/routing/routingTable.ts';
import { validateAgainstXsd, xmllintAvailable } from '../support/xmllint.ts';

const examples = path.join(import.meta.dirname, '../../examples');
const read = (name: string) => readFileSync(path.join(examples, name), 'utf8');
const notice = read('11007007_G_2026_334.081020.xml');
const supplement = read('11007007_G_2026_334.081021.xml');
const corrected = read('berichtigung/11007007_G_2026_334.081021.xml');
const key = parseRegisterKey('11007007/G/2026/334');

describe('examples/', () => {
  it.skipIf(!xmllintAvailable)('is valid against the XPersonenstand 26.11 schema', () => {
    const result = validateAgainstXsd('portale', [notice, supplement, corrected]);
    expect(result.ok, result.output).toBe(true);
  });

  it('joins into the registration the README routes to Berlin', () => {
    if (!key.success) throw new Error('register key');
    const joined = joinedRegistration({ notice081020: notice, supplement081021: supplement, registerKey: key.data });
    expect(joined.success, JSON.stringify(joined)).toBe(true);
    if (!joined.success) return;
    expect(joined.data.consent).toMatchObject({ elterngeldstelle: true, zustaendigeElterngeldstelle: 'egs:11000000' });
    const config = parseConfig({});
    expect(resolveRecipients(config.routing, joined.data)).toEqual({
      elterngeldstelle: { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' },
      familienkasse: { role: 'familienkasse', dvdv: 'fka:ost', name: 'Familienkasse Berlin-Brandenburg' },
    });
    expect(responsibleMeldebehoerde(config.meldebehoerden, key.data)).toBe('mbh:demo');
    // The correction changes the child's first name only.
    const correction = joinedRegistration({ notice081020: notice, supplement081021: corrected, registerKey: key.data });
    expect(correction.success).toBe(true);
    if (correction.success) expect(JSON.stringify(correction.data.child)).toContain('Mila');
  });
});
