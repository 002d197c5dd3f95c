// The one watcher of the CA's published files (issued certificates, statement of holders, CRL)
// against a real CA directory: what its subscribers are told when a certificate is issued,
// replaced, revoked; that garbage or a half-written file is logged and counted while the last
// good state stays; and that a burst of changes reaches a subscriber as one change.
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { watchCaFiles, type CaFiles, type CaFilesState } from '../../connectors/kit/caFiles.ts';
import { caCertificate, crlFileOf, pkiInit, revoke } from '../../hub/src/pki/pki.ts';
import { issueParty, tmpDir } from '../support/parties.ts';
import { until } from '../support/processes.ts';

interface Logged {
  level: string;
  fields: Record<string, unknown>;
}

describe('the CA files watcher', () => {
  let ca: string;
  let issued: string;
  const open: CaFiles[] = [];
  beforeAll(async () => {
    ca = tmpDir('ca-files');
    await pkiInit(ca);
    issued = path.join(ca, 'issued');
    await issueParty(ca, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'Elterngeldstelle Berlin' });
  });
  afterEach(() => {
    for (const w of open.splice(0)) w.stop();
  });
  const watcher = (logged: Logged[] = [], debounceMs = 50, now?: () => Date) => {
    const w = watchCaFiles({
      ...(now ? { now } : {}),
      caCertificatePem: caCertificate(ca),
      crlFile: crlFileOf(ca),
      issuedDir: issued,
      debounceMs,
      pollMs: 60_000, // the change events must do it: no poll within a test
      log: (level, fields) => logged.push({ level, fields }),
    });
    open.push(w);
    return w;
  };
  const subscribed = (w: CaFiles) => {
    const seen: CaFilesState[] = [];
    w.subscribe((s) => seen.push(s));
    return seen;
  };
  const serials = (s: CaFilesState) => s.certificates.map((c) => c.serial);

  it('reads the issued certificates, the holders and the CRL once, with one parser', () => {
    const state = watcher().current();
    expect(state.certificates.length).toBeGreaterThanOrEqual(1);
    const egs = state.certificates.find((c) => c.facts?.dvdv === 'egs:11000000')!;
    expect(egs.facts?.role).toBe('elterngeldstelle');
    expect('holders' in state.holders && state.holders.holders['egs:11000000']).toBe(egs.serial);
    expect(state.revoked.has(egs.serial)).toBe(false);
    expect(state.revocationUnknown).toBeUndefined();
  });

  it('tells subscribers when a certificate leaves or enters its validity, with no file changed', () => {
    let clock = new Date();
    const w = watcher([], 50, () => clock);
    const seen = subscribed(w);
    const egs = w.current().certificates.find((c) => c.facts?.dvdv === 'egs:11000000')!;
    const version = w.current().version;
    expect(w.current().version).toBe(version); // asked again, nothing changed: the same state
    clock = new Date(egs.validTo + 1000);
    expect(w.current().version).toBe(version + 1);
    expect(seen.at(-1)?.version).toBe(version + 1);
    expect(w.current().version).toBe(version + 1);
    clock = new Date(egs.validFrom + 1000);
    expect(w.current().version).toBe(version + 2);
  });

  it('tells subscribers of an added certificate without being asked (file events, no poll)', async () => {
    const w = watcher();
    const seen = subscribed(w);
    const before = serials(w.current());
    const party = await issueParty(ca, { role: 'familienkasse', dvdv: 'fka:ost', name: 'Familienkasse Berlin-Brandenburg' });
    await until(() => seen.some((s) => serials(s).includes(party.serial)), { what: 'the new certificate reaches the subscriber', timeoutMs: 10_000 });
    expect(serials(seen.at(-1)!)).toEqual(expect.arrayContaining([...before, party.serial]));
  });

  it('tells subscribers of a revocation through the CRL', async () => {
    const w = watcher();
    const seen = subscribed(w);
    const party = await issueParty(ca, { role: 'standesamt', dvdv: 'psw:09000000', name: 'Standesamt Köln' });
    await until(() => seen.some((s) => serials(s).includes(party.serial)), { what: 'issued', timeoutMs: 10_000 });
    await revoke(ca, party.serial);
    await until(() => seen.some((s) => s.revoked.has(party.serial)), { what: 'the revocation reaches the subscriber', timeoutMs: 10_000 });
    expect(w.revoked().has(party.serial)).toBe(true);
  });

  it('takes a replaced certificate file (renamed over the old one) and drops a removed one', async () => {
    const w = watcher();
    const seen = subscribed(w);
    const a = await issueParty(ca, { role: 'standesamt', dvdv: 'psw:08000000', name: 'Standesamt A' });
    const b = await issueParty(ca, { role: 'standesamt', dvdv: 'psw:08000001', name: 'Standesamt B' });
    await until(() => seen.some((s) => serials(s).includes(b.serial)), { what: 'issued', timeoutMs: 10_000 });
    const slot = path.join(issued, `${a.serial}.cert.pem`);
    const tmp = `${slot}.tmp`;
    writeFileSync(tmp, b.certificatePem);
    renameSync(tmp, slot); // the file of a now holds b's certificate
    await until(() => seen.some((s) => s.certificates.find((c) => c.file === `${a.serial}.cert.pem`)?.serial === b.serial), { what: 'the replaced file is read again', timeoutMs: 10_000 });
    renameSync(slot, path.join(tmpDir('moved'), 'gone.pem'));
    await until(() => seen.some((s) => !s.certificates.some((c) => c.file === `${a.serial}.cert.pem`)), { what: 'the removed file leaves the state', timeoutMs: 10_000 });
  });

  it('logs and counts a garbage file and a half-written one at error level; the last good state stays', async () => {
    const logged: Logged[] = [];
    const w = watcher(logged);
    const seen = subscribed(w);
    const good = w.current();
    writeFileSync(path.join(issued, 'garbage.cert.pem'), 'not a certificate at all');
    await until(() => w.stats.badFiles >= 1, { what: 'the garbage file is counted', timeoutMs: 10_000 });
    expect(logged.find((l) => l.level === 'error' && l.fields['file'] === 'garbage.cert.pem')?.fields).toMatchObject({ event: 'ca-files.bad-file' });
    // A certificate of ours rewritten in place and caught half-way: the good version stays.
    const victim = good.certificates[0]!;
    const file = path.join(issued, victim.file);
    writeFileSync(file, victim.pem.slice(0, 200));
    await until(() => w.stats.badFiles >= 2, { what: 'the half-written file is counted', timeoutMs: 10_000 });
    expect(w.current().certificates.find((c) => c.file === victim.file)?.serial).toBe(victim.serial);
    expect(serials(w.current())).toEqual(serials(good));
    // Reading it again and again counts it once.
    expect(w.stats.badFiles).toBe(2);
    writeFileSync(file, victim.pem); // completed
    await until(() => !logged.some((l) => l.fields['file'] === victim.file && l.level === 'error') || w.current().certificates.some((c) => c.file === victim.file), { what: 'completed', timeoutMs: 10_000 });
    expect(serials(w.current())).toEqual(serials(good));
    expect(seen.every((s) => !s.certificates.some((c) => c.file === 'garbage.cert.pem'))).toBe(true);
  });

  it('keeps the last good CRL when a foreign one is copied over it (fail-closed at start)', async () => {
    const logged: Logged[] = [];
    const dir = tmpDir('ca-files-crl');
    const crlFile = path.join(dir, 'crl.pem');
    copyFileSync(crlFileOf(ca), crlFile);
    const other = tmpDir('ca-files-other');
    await pkiInit(other);
    expect(() => watchCaFiles({ caCertificatePem: caCertificate(ca), crlFile: crlFileOf(other) })).toThrow(expect.objectContaining({ code: 'bad-crl' }));
    const w = watchCaFiles({ caCertificatePem: caCertificate(ca), crlFile, debounceMs: 50, pollMs: 60_000, log: (level, fields) => logged.push({ level, fields }) });
    open.push(w);
    const good = w.current().revoked;
    subscribed(w);
    const tmp = path.join(dir, '.crl.tmp');
    copyFileSync(crlFileOf(other), tmp);
    renameSync(tmp, crlFile);
    await until(() => w.stats.badFiles >= 1, { what: 'the foreign CRL is counted', timeoutMs: 10_000 });
    expect(w.revoked.lastError?.code).toBe('bad-crl');
    expect(w.current().revoked).toEqual(good);
    expect(logged.some((l) => l.level === 'error' && l.fields['event'] === 'ca-files.bad-file' && l.fields['file'] === 'crl.pem')).toBe(true);
  });

  it('folds a burst of changes into one notice', async () => {
    const w = watcher([], 400);
    const seen = subscribed(w);
    const burst = tmpDir('ca-files-burst');
    const parties = [];
    for (let i = 0; i < 5; i++) parties.push(await issueParty(ca, { role: 'standesamt', dvdv: `psw:0700000${i}`, name: `Standesamt ${i}` }));
    // Five files 30 ms apart (well within the 400 ms debounce), as a CA issuing in a loop: each
    // rename's event arrives before the next file is there.
    mkdirSync(burst, { recursive: true });
    for (const [i, p] of parties.entries()) {
      const copy = path.join(burst, `${i}.pem`);
      writeFileSync(copy, readFileSync(path.join(issued, `${p.serial}.cert.pem`)));
      renameSync(copy, path.join(issued, `copy-${i}.cert.pem`));
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    await until(() => seen.some((s) => s.certificates.some((c) => c.file === 'copy-4.cert.pem')), { what: 'the burst reaches the subscriber', timeoutMs: 10_000 });
    const after = seen.filter((s) => s.certificates.some((c) => c.file.startsWith('copy-')));
    expect(after).toHaveLength(1);
    expect(after[0]!.certificates.filter((c) => c.file.startsWith('copy-'))).toHaveLength(5);
  });
});
