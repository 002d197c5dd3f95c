// Who is calling, decided from the client certificate: a revoked certificate is refused, and
// without a current revocation list no certificate is trusted at all (fails closed).
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { normalizeSerial } from '../../../contracts/index.ts';
import { pkiInit } from '../pki/pki.ts';
import { issueParty, tmpDir } from '../../../tests/support/parties.ts';
import { callerOf, type RevocationList } from './access.ts';

const socketWith = (certPem: string) => ({ authorized: true, getPeerCertificate: () => ({ raw: new X509Certificate(certPem).raw }) }) as unknown as TLSSocket;

describe('the API caller', () => {
  it('is the certificate\'s party; a revoked one is refused; with no current CRL nobody is trusted', async () => {
    const ca = tmpDir('access-ca');
    await pkiInit(ca);
    const party = await issueParty(ca, { role: 'auditor', dvdv: 'aud:test', name: 'Auditor (Test)' });
    const socket = socketWith(readFileSync(party.certFile, 'utf8'));
    const none: RevocationList = () => new Set();
    expect(callerOf(socket, none)).toMatchObject({ success: true, data: { role: 'auditor', dvdv: 'aud:test' } });
    const revoked: RevocationList = () => new Set([normalizeSerial(party.serial)]);
    expect(callerOf(socket, revoked)).toMatchObject({ success: false, error: { status: 401, title: 'certificate revoked' } });
    const unusable: RevocationList = Object.assign(() => new Set<string>(), { unusable: { message: 'the CRL expired a year ago' } });
    expect(callerOf(socket, unusable)).toMatchObject({ success: false, error: { status: 503, title: 'revocation status unknown' } });
  });
});
