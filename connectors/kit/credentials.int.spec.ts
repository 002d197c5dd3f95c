// The party's side of the PKI: what goes into a certificate request, and what does not.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { x509 } from '../../contracts/index.ts';
import { createRequest, credentialFiles, loadCredentials } from './credentials.ts';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-credentials-'));
const code = async <T>(p: Promise<T>) => p.then(() => 'accepted', (e: { code?: string }) => e.code ?? String(e));
const openssl = spawnSync('openssl', ['version']).status === 0;

describe('certificate requests', () => {
  it('names the party in UTF-8 and asks for its role and DVDV address; the key stays in the directory', async () => {
    const dir = path.join(tmp(), 'egs');
    const out = await createRequest(dir, { role: 'elterngeldstelle', dvdv: 'egs:11000000', name: 'Elterngeldstelle Jüterbog', serverNames: ['egs.example', '10.0.0.7'] });
    expect(out).not.toHaveProperty('privateKey');
    expect(JSON.stringify(out)).not.toContain('PRIVATE KEY');
    const csr = new x509.Pkcs10CertificateRequest(readFileSync(out.requestFile, 'utf8'));
    expect(await csr.verify()).toBe(true);
    expect(csr.subjectName.toJSON()).toEqual([{ CN: ['egs:11000000'] }, { O: ['Elterngeldstelle Jüterbog'] }, { OU: ['elterngeldstelle'] }]);
    const san = csr.getExtension('2.5.29.17') as x509.SubjectAlternativeNameExtension;
    expect(san.names.toJSON()).toEqual([
      { type: 'url', value: 'urn:elfe:role:elterngeldstelle' },
      { type: 'url', value: 'urn:elfe:dvdv:egs:11000000' },
      { type: 'dns', value: 'egs.example' },
      { type: 'ip', value: '10.0.0.7' },
    ]);
    expect(readFileSync(credentialFiles(dir).keyFile, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    if (openssl) {
      // OpenSSL reads the request and sees the O= value as UTF8String.
      const text = execFileSync('openssl', ['req', '-in', out.requestFile, '-noout', '-verify', '-text', '-nameopt', 'show_type,utf8'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(text).toContain('O=UTF8STRING:Elterngeldstelle Jüterbog');
    }
  });

  it('asks for a TLS-server-only identity without role or DVDV address', async () => {
    const out = await createRequest(path.join(tmp(), 'nats'), { tlsServer: true, name: 'nats-server', serverNames: ['localhost', '127.0.0.1'] });
    const csr = new x509.Pkcs10CertificateRequest(out.requestPem);
    const san = csr.getExtension('2.5.29.17') as x509.SubjectAlternativeNameExtension;
    expect(san.names.toJSON().map((n) => n.type)).toEqual(['dns', 'ip']);
    await expect(code(createRequest(path.join(tmp(), 'nats2'), { tlsServer: true, name: 'nats-server', serverNames: [] }))).resolves.toBe('invalid-input');
  });

  it('refuses bad input before it writes anything', async () => {
    const dir = path.join(tmp(), 'x');
    await expect(code(createRequest(dir, { role: 'nobody' as never, dvdv: 'psw:1', name: 'X' }))).resolves.toBe('invalid-input');
    await expect(code(createRequest(dir, { role: 'standesamt', dvdv: 'psw 1', name: 'X' }))).resolves.toBe('invalid-input');
    await expect(code(createRequest(dir, { role: 'standesamt', dvdv: 'psw:1', name: 'X\nY' }))).resolves.toBe('invalid-input');
    await expect(code(createRequest(dir, { role: 'standesamt', dvdv: 'psw:1', name: 'X', serverNames: ['bad name'] }))).resolves.toBe('invalid-input');
    expect(() => loadCredentials(dir)).toThrow(expect.objectContaining({ code: 'missing' }));
  });
});
