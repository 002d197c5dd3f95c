// `elfe exchange init` goes through the CA's desk: every party is registered, then signed; the
// hub identity only through the hub's own enrolment; a layout made before the CA kept a
// register is adopted (its certificates become the registered holders) when init runs again.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hubIdentity } from '../../../contracts/index.ts';
import { readHolders, readRegister, verifyIssuanceLog } from '../pki/register.ts';
import { provisionExchange } from './exchange.ts';

describe('exchange init and the register', () => {
  it('registers every party with its certificate as holder, publishes the holders signed, and adopts an older layout', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'elfe-exreg-'));
    const x = await provisionExchange(root, { natsPort: 4222 });
    const caPem = readFileSync(path.join(x.caDir, 'ca.cert.pem'), 'utf8');
    const entries = readRegister(x.caDir).entries;
    for (const p of x.parties) {
      const entry = entries.find((e) => e.dvdv === p.dvdv);
      expect(entry).toMatchObject({ role: p.role, name: p.displayName });
      expect(entry?.holder).toMatch(/^[0-9A-F]+$/);
    }
    expect(entries.find((e) => e.dvdv === hubIdentity.dvdv)?.holder).toBeDefined();
    const holders = readHolders(path.join(x.caDir, 'issued'), caPem);
    expect('holders' in holders && holders.holders['egs:11000000']).toBe(entries.find((e) => e.dvdv === 'egs:11000000')?.holder);
    expect(verifyIssuanceLog(x.caDir, caPem)).toMatchObject({ valid: true });

    // The same layout before the register existed: init again adopts what was issued.
    const before = readRegister(x.caDir).entries.map((e) => [e.dvdv ?? e.name, e.holder]);
    for (const f of ['register.json', 'issuance.log', path.join('issued', 'holders.json')]) rmSync(path.join(x.caDir, f));
    await provisionExchange(root, { natsPort: 4222 });
    expect(readRegister(x.caDir).entries.map((e) => [e.dvdv ?? e.name, e.holder])).toEqual(before);
    const again = readHolders(path.join(x.caDir, 'issued'), caPem);
    expect('holders' in again && again.holders['fka:ost']).toBe(entries.find((e) => e.dvdv === 'fka:ost')?.holder);
    expect(verifyIssuanceLog(x.caDir, caPem)).toMatchObject({ valid: true });
  });
});
