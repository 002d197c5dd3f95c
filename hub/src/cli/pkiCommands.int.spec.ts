// `elfe pki` end to end on the command objects: a CA, a party's request, signing, revocation,
// status, the register; bad input answers with a JSON error and exit code 2.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCode, type Io } from './command.ts';
import { pkiCommands } from './pkiCommands.ts';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'elfe-pki-cli-'));

async function elfe(...argv: string[]): Promise<{ status: number; out: string[]; json: () => unknown }> {
  const command = pkiCommands.find((c) => c.path.every((p, i) => argv[i] === p))!;
  const out: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => out.push(t), isTTY: false };
  const status = await command.run(argv.slice(command.path.length), io);
  return { status, out, json: () => JSON.parse(out.join('\n')) };
}

describe('elfe pki', () => {
  it('init, request, sign, revoke, status', async () => {
    const base = tmp();
    const ca = path.join(base, 'ca');
    expect((await elfe('pki', 'init', '--dir', ca)).status).toBe(exitCode.ok);
    const party = path.join(base, 'standesamt');
    const requested = await elfe('pki', 'request', '--role', 'standesamt', '--dvdv', 'psw:11007007', '--name', 'Standesamt Jüterbog', '--out', party);
    expect(requested.status).toBe(exitCode.ok);
    expect(requested.out.join('')).not.toContain('PRIVATE KEY');
    // Not registered: refused.
    const unregistered = await elfe('pki', 'sign', path.join(party, 'request.csr'), '--dir', ca, '--yes');
    expect(unregistered.status).toBe(exitCode.invalidInput);
    expect(unregistered.json()).toMatchObject({ error: { code: 'not-registered' } });
    expect((await elfe('pki', 'register', '--dir', ca, '--role', 'standesamt', '--dvdv', 'psw:11007007', '--name', 'Standesamt Jüterbog')).status).toBe(exitCode.ok);
    // Registered, but no terminal and no --yes: shown, not signed.
    const unconfirmed = await elfe('pki', 'sign', path.join(party, 'request.csr'), '--dir', ca, '--days', '30');
    expect(unconfirmed.status).toBe(exitCode.invalidInput);
    expect(unconfirmed.out.join('\n')).toContain('address      psw:11007007');
    expect(unconfirmed.out.join('\n')).toContain('not-confirmed');
    const signed = await elfe('pki', 'sign', path.join(party, 'request.csr'), '--dir', ca, '--days', '30', '--yes', '--json');
    expect(signed.status).toBe(exitCode.ok);
    const { serial, certFile } = signed.json() as { serial: string; certFile: string };
    expect(signed.json()).toMatchObject({ role: 'standesamt', dvdv: 'psw:11007007', name: 'Standesamt Jüterbog', keyFingerprint: expect.stringMatching(/^SHA256:/) });
    expect(certFile).toBe(path.join(party, 'cert.pem'));
    expect(readFileSync(certFile, 'utf8')).toContain('BEGIN CERTIFICATE');
    const server = path.join(base, 'nats');
    expect((await elfe('pki', 'request', '--tls-server', '--name', 'nats-server', '--server-name', 'localhost', '--out', server)).status).toBe(exitCode.ok);
    expect((await elfe('pki', 'register', '--dir', ca, '--tls-server', '--name', 'nats-server', '--server-name', 'localhost')).status).toBe(exitCode.ok);
    expect((await elfe('pki', 'sign', path.join(server, 'request.csr'), '--dir', ca, '--out', path.join(server, 'server.pem'), '--yes')).status).toBe(exitCode.ok);
    expect((await elfe('pki', 'revoke', serial, '--dir', ca, '--reason', 'superseded')).status).toBe(exitCode.ok);
    const status = await elfe('pki', 'status', '--dir', ca, '--json');
    expect(status.status).toBe(exitCode.ok); // the 30-day certificate would expire soon, but it is revoked
    const shown = status.json() as { register: unknown[]; certificates: unknown[]; issuanceLog: { entries: number; valid: boolean } };
    expect(shown.certificates).toEqual(expect.arrayContaining([expect.objectContaining({ serial, revoked: true, holds: 'psw:11007007' })]));
    expect(shown.register).toEqual(expect.arrayContaining([expect.objectContaining({ dvdv: 'psw:11007007', role: 'standesamt', holder: serial })]));
    // init, two registrations, two issuances, one revocation
    expect(shown.issuanceLog).toEqual({ entries: 6, valid: true });
    const text = await elfe('pki', 'status', '--dir', ca);
    expect(text.out.join('\n')).toMatch(/psw:11007007 +standesamt +Standesamt Jüterbog +holder /);
    expect(text.out.join('\n')).toContain('chain and CA signatures verified');
  });

  it('answers bad input with a typed JSON error and exit 2', async () => {
    const base = tmp();
    const ca = path.join(base, 'ca');
    await elfe('pki', 'init', '--dir', ca);
    const expectError = async (run: Promise<{ status: number; json: () => unknown }>, code: string) => {
      const r = await run;
      expect(r.status).toBe(exitCode.invalidInput);
      expect(r.json()).toMatchObject({ error: { code } });
    };
    await expectError(elfe('pki', 'init', '--dir', ca), 'ca-exists');
    await expectError(elfe('pki', 'request', '--role', 'nobody', '--dvdv', 'psw:1', '--name', 'X', '--out', path.join(base, 'p')), 'invalid-input');
    await expectError(elfe('pki', 'request', '--role', 'standesamt', '--dvdv', 'not an address', '--name', 'X', '--out', path.join(base, 'p')), 'invalid-input');
    const garbage = path.join(base, 'garbage.csr');
    writeFileSync(garbage, 'not a request');
    await expectError(elfe('pki', 'sign', garbage, '--dir', ca), 'bad-request');
    await expectError(elfe('pki', 'sign', path.join(base, 'missing.csr'), '--dir', ca), 'unreadable');
    await expectError(elfe('pki', 'sign', garbage, '--dir', path.join(base, 'no-ca')), 'no-ca');
    await expectError(elfe('pki', 'sign', garbage, '--dir', ca, '--days', 'soon'), 'invalid-input');
    await expectError(elfe('pki', 'revoke', 'ABCDEF', '--dir', ca), 'unknown-serial');
    await expectError(elfe('pki', 'revoke', 'ABCDEF', '--dir', ca, '--reason', 'bored'), 'invalid-input');
    await expect(elfe('pki', 'request', '--tls-server', '--role', 'hub', '--name', 'X', '--out', base)).rejects.toMatchObject({ code: 'usage' });
  });
});
