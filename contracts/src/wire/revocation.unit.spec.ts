// CRL parsing and reloading against CRLs made in memory by a throwaway CA.
import { describe, expect, it } from 'vitest';
import { crlReloader, parseCrl, type CrlFile } from './revocation.ts';
import { derInteger, ecdsaP256, x509 } from './x509.ts';

async function testCa(cn: string, options: { nextUpdate?: boolean | Date } = {}) {
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const name = new x509.Name([{ CN: [{ utf8String: cn }] }]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ name, keys, signingAlgorithm: ecdsaP256, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] });
  const crl = async (serials: string[], crlNumber: number, nextUpdate?: Date) =>
    (
      await x509.X509CrlGenerator.create({
        issuer: name,
        ...(options.nextUpdate === false ? {} : { nextUpdate: nextUpdate ?? (options.nextUpdate instanceof Date ? options.nextUpdate : new Date(Date.now() + 86_400_000)) }),
        entries: serials.map((serialNumber) => ({ serialNumber, revocationDate: new Date(), reason: x509.X509CrlReason.superseded })),
        extensions: [new x509.Extension('2.5.29.20', false, derInteger(crlNumber))],
        signingKey: keys.privateKey,
        signingAlgorithm: ecdsaP256,
      })
    ).toString('pem');
  return { pem: cert.toString('pem'), crl };
}

describe('CRL', () => {
  it('reads serials, number and reason of a CRL the CA signed', async () => {
    const ca = await testCa('CA');
    const parsed = parseCrl(await ca.crl(['0abc', 'DEF0'], 7), ca.pem);
    expect(parsed.success && [...parsed.data.serials]).toEqual(['ABC', 'DEF0']);
    expect(parsed.success && parsed.data.crlNumber).toBe(7);
    expect(parsed.success && parsed.data.entries[0]?.reason).toBe(x509.X509CrlReason.superseded);
  });

  it('refuses a CRL from another CA, one with the same name but another key, an altered one and garbage', async () => {
    const ca = await testCa('CA');
    const other = await testCa('Other CA');
    const twin = await testCa('CA');
    expect(parseCrl(await other.crl([], 1), ca.pem)).toMatchObject({ success: false, error: { code: 'bad-crl' } });
    expect(parseCrl(await twin.crl([], 1), ca.pem)).toMatchObject({ success: false, error: { code: 'bad-crl' } });
    const der = new Uint8Array(new x509.X509Crl(await ca.crl(['AA'], 1)).rawData);
    const altered = Uint8Array.from(der);
    const at = Buffer.from(der).indexOf(Buffer.from([0xaa]));
    altered[at] = 0xab; // now another certificate is the revoked one
    expect(parseCrl(der, ca.pem).success).toBe(true);
    expect(parseCrl(altered, ca.pem)).toMatchObject({ success: false, error: { code: 'bad-crl' } });
    expect(parseCrl('not a crl', ca.pem)).toMatchObject({ success: false, error: { code: 'bad-crl' } });
  });

  it('refuses a CRL without nextUpdate (RFC 5280 requires it; the parser would read no entries)', async () => {
    const ca = await testCa('CA', { nextUpdate: false });
    expect(parseCrl(await ca.crl(['AA'], 1), ca.pem)).toMatchObject({ success: false, error: { code: 'bad-crl', message: expect.stringContaining('nextUpdate') } });
  });

  it('re-reads only when the stamp changes, and keeps the last good list when a new one is bad', async () => {
    const ca = await testCa('CA');
    const other = await testCa('Other CA');
    let stamp = 'a';
    let content = await ca.crl(['01'], 1);
    let reads = 0;
    const file: CrlFile = { stamp: () => stamp, read: () => (reads++, content) };
    const errors: string[] = [];
    const source = crlReloader(file, ca.pem, { onError: (e) => errors.push(e.code) });
    expect([...source()]).toEqual(['1']);
    expect([...source()]).toEqual(['1']);
    expect(reads).toBe(1);
    content = await ca.crl(['01', '02'], 2);
    expect([...source()]).toEqual(['1']); // same stamp: not re-read
    stamp = 'b';
    expect([...source()]).toEqual(['1', '2']);
    content = await other.crl([], 3);
    stamp = 'c';
    expect([...source()]).toEqual(['1', '2']);
    expect(source.lastError?.code).toBe('bad-crl');
    expect(errors).toEqual(['bad-crl']);
    expect(() => crlReloader({ stamp: () => 'x', read: () => { throw new Error('ENOENT'); } }, ca.pem)).toThrow(expect.objectContaining({ code: 'crl-unavailable' }));
  });

  it('refuses an older CRL number than seen (rollback), keeping the last good list; the number survives a restart', async () => {
    const ca = await testCa('CA');
    let stamp = 'a';
    let content = await ca.crl([], 1);
    let stored: number | undefined;
    const numbers = { read: () => stored, write: (n: number) => void (stored = n) };
    const errors: string[] = [];
    const source = crlReloader({ stamp: () => stamp, read: () => content }, ca.pem, { numbers, onError: (e) => errors.push(e.code) });
    const older = content;
    content = await ca.crl(['05'], 2);
    stamp = 'b';
    expect([...source()]).toEqual(['5']);
    expect(stored).toBe(2);
    content = older; // the CA's own, correctly signed, but older list
    stamp = 'c';
    expect([...source()]).toEqual(['5']);
    expect(source.lastError?.code).toBe('crl-rollback');
    expect(errors).toEqual(['crl-rollback']);
    expect(source.unusable).toBeUndefined();
    content = await ca.crl(['05'], 2); // the same number again is fine
    stamp = 'd';
    expect([...source()]).toEqual(['5']);
    expect(source.lastError).toBeUndefined();
    // A restart with the older list in place: refused at start, fail closed.
    expect(() => crlReloader({ stamp: () => 'x', read: () => older }, ca.pem, { numbers })).toThrow(expect.objectContaining({ code: 'crl-rollback' }));
  });

  it('refuses a stale CRL; the list in force counts through the grace (said as it runs out), then no list is good', async () => {
    const ca = await testCa('CA');
    const stale = await testCa('CA', { nextUpdate: new Date(Date.now() - 365 * 86_400_000) });
    // A list whose nextUpdate passed a year ago is refused at start, even with a grace.
    const staleList = await stale.crl([], 9);
    expect(() => crlReloader({ stamp: () => 'x', read: () => staleList }, stale.pem, { graceMs: 3600_000 })).toThrow(expect.objectContaining({ code: 'crl-stale' }));
    // Later, a stale list (of a higher number) is refused and the last good one stays.
    let stamp = 'a';
    let content = await ca.crl(['07'], 1);
    const due = new x509.X509Crl(content).nextUpdate!;
    let now = new Date(due.getTime() - 1000);
    const errors: string[] = [];
    const grace: number[] = [];
    const unusable: string[] = [];
    const source = crlReloader({ stamp: () => stamp, read: () => content }, ca.pem, {
      graceMs: 3600_000,
      now: () => now,
      onError: (e) => errors.push(e.code),
      onGrace: (g) => grace.push(g.msLeft),
      onUnusable: (e) => unusable.push(e.code),
    });
    expect([...source()]).toEqual(['7']);
    expect(source.unusable).toBeUndefined();
    content = await ca.crl([], 2, new Date(due.getTime() - 365 * 86_400_000)); // newer number, revokes nothing, a year stale
    stamp = 'b';
    expect([...source()]).toEqual(['7']);
    expect(source.lastError?.code).toBe('crl-stale');
    expect(errors).toEqual(['crl-stale']);
    // nextUpdate passed, within the grace: still good, said loudly (once a minute).
    now = new Date(due.getTime() + 60_000);
    expect([...source()]).toEqual(['7']);
    expect(source()).toBeDefined();
    expect(source.unusable).toBeUndefined();
    expect(grace).toEqual([3600_000 - 60_000]);
    // Past the grace: no good list any more; said once.
    now = new Date(due.getTime() + 3600_000 + 1000);
    expect(source.unusable?.code).toBe('crl-stale');
    expect(source.unusable?.code).toBe('crl-stale');
    expect(unusable).toEqual(['crl-stale']);
    // A current list from the CA makes it good again.
    content = await ca.crl(['07'], 3, new Date(now.getTime() + 86_400_000));
    stamp = 'c';
    expect(source.unusable).toBeUndefined();
    expect(source.lastError).toBeUndefined();
    expect(source.current.crlNumber).toBe(3);
  });
});
