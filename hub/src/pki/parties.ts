// Certificates of the parties a hub knows by name (hub, agencies, producers), kept under
// `<pkiDir>/parties/<name>.{cert,key}.pem` next to the CA that issued them.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { Role } from '../../../contracts/index.ts';
import { issueCertificate, pkiInit } from './pki.ts';

export interface PartyFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export const partyFiles = (pkiDir: string, name: string): PartyFiles => ({
  certFile: path.join(pkiDir, 'parties', `${name}.cert.pem`),
  keyFile: path.join(pkiDir, 'parties', `${name}.key.pem`),
});

/** Creates the CA on first use (embedded defaults). */
export function ensureCa(pkiDir: string): void {
  if (!existsSync(path.join(pkiDir, 'ca.key.pem'))) pkiInit(pkiDir);
}

/** The party's certificate, issued on first use. */
export function ensurePartyCertificate(pkiDir: string, party: { name: string; role: Role; dvdv: string; displayName: string; serverNames?: readonly string[] }): PartyFiles {
  const files = partyFiles(pkiDir, party.name);
  if (!existsSync(files.certFile)) {
    const issued = issueCertificate(pkiDir, { role: party.role, dvdv: party.dvdv, name: party.displayName, ...(party.serverNames ? { serverNames: party.serverNames } : {}) });
    storeParty(pkiDir, party.name, issued);
  }
  return files;
}

/** Files an issued certificate under a party name (replacing an earlier one: renewal). */
export function storeParty(pkiDir: string, name: string, issued: { certFile: string; keyFile: string }): PartyFiles {
  const files = partyFiles(pkiDir, name);
  mkdirSync(path.dirname(files.certFile), { recursive: true, mode: 0o700 });
  copyFileSync(issued.keyFile, files.keyFile);
  copyFileSync(issued.certFile, files.certFile);
  return files;
}

export function readParty(files: PartyFiles): { certificatePem: string; privateKey: KeyObject } {
  return { certificatePem: readFileSync(files.certFile, 'utf8'), privateKey: createPrivateKey(readFileSync(files.keyFile)) };
}

/** The recipient's public key while its certificate is valid, or why not. */
export function recipientKey(files: PartyFiles, now = new Date()): { key: KeyObject } | { reason: string } {
  if (!existsSync(files.certFile)) return { reason: 'no certificate for the recipient' };
  const cert = new X509Certificate(readFileSync(files.certFile));
  if (now.getTime() > Date.parse(cert.validTo)) return { reason: `the recipient's certificate expired on ${new Date(cert.validTo).toISOString()}` };
  return { key: cert.publicKey };
}
