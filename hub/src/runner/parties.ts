// Parties for the tests and the bench, made the way the exchange makes them: each party generates its key
// and a CSR in its own directory, the CA signs the request, the party stores the certificate.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequest, credentialFiles, loadCredentials, type Credentials, type RequestOptions } from '../../../connectors/kit/credentials.ts';
import { enrolRequest } from '../pki/pki.ts';

export const tmpDir = (name: string): string => mkdtempSync(path.join(os.tmpdir(), `elfe-${name}-`));

export interface TestParty extends Credentials {
  readonly dir: string;
  readonly serial: string;
}

/**
 * A party with its own directory (key.pem, request.csr, cert.pem) and a certificate from `caDir`.
 * A fixture: the party is registered as its request says when the register lacks it, and a
 * second party for a held address rotates it (the new certificate becomes the holder).
 */
export async function issueParty(caDir: string, request: RequestOptions, options: { days?: number; now?: Date; dir?: string } = {}): Promise<TestParty> {
  const dir = options.dir ?? tmpDir('party');
  const { requestPem } = await createRequest(dir, request);
  const issued = await enrolRequest(caDir, requestPem, {
    rotate: true,
    ...(!request.tlsServer && request.role === 'hub' ? { allowHubIdentity: true } : {}),
    ...(options.days !== undefined ? { days: options.days } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  writeFileSync(credentialFiles(dir).certFile, issued.certificatePem);
  return { ...loadCredentials(dir), dir, serial: issued.serial };
}
