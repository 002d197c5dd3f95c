// The nats-server configuration generated from the PKI: TLS on every connection, clients
// authenticated by their certificates (verify_and_map on the e-mail SAN), and subject
// permissions per role: a Standesamt may only submit, an agency may only consume its own
// deliveries and publish its own receipts, an auditor may only read, the hub may do all.
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { certificateFacts, consumerName, deliveryStream, deliverySubject, receiptSubject, type Role } from '../../../contracts/index.ts';
import { natsUserOf, readRevocations } from './pki.ts';

interface Permissions {
  publish: string[];
  subscribe: string[];
}

export function permissionsFor(role: Role, dvdv: string): Permissions | 'all' {
  const inbox = ['_INBOX.>'];
  switch (role) {
    case 'hub':
      return 'all';
    case 'standesamt':
    case 'meldebehoerde':
      return { publish: ['elfe.submit'], subscribe: inbox };
    case 'elterngeldstelle':
    case 'familienkasse': {
      const consumer = consumerName(dvdv);
      return {
        publish: [
          '$JS.API.INFO',
          `$JS.API.STREAM.INFO.${deliveryStream}`,
          // Only its own durable, filtered to its own subject (the filter is part of the subject).
          `$JS.API.CONSUMER.CREATE.${deliveryStream}.${consumer}.${deliverySubject(dvdv)}`,
          `$JS.API.CONSUMER.INFO.${deliveryStream}.${consumer}`,
          `$JS.API.CONSUMER.MSG.NEXT.${deliveryStream}.${consumer}`,
          `$JS.ACK.${deliveryStream}.${consumer}.>`,
          receiptSubject(dvdv),
        ],
        subscribe: inbox,
      };
    }
    case 'auditor':
      return { publish: ['$JS.API.INFO', '$JS.API.STREAM.INFO.*', '$JS.API.STREAM.MSG.GET.*'], subscribe: inbox };
  }
}

const quote = (s: string) => JSON.stringify(s);

/**
 * The `tls` and `authorization` blocks for nats-server: every certificate the CA issued and
 * did not revoke becomes a user. Regenerate and reload (SIGHUP) after issuing or revoking.
 */
export function natsSecurityConfig(pkiDir: string, server: { certFile: string; keyFile: string }): string {
  const revoked = readRevocations(pkiDir);
  const issued = path.join(pkiDir, 'issued');
  const users: string[] = [];
  const seen = new Set<string>();
  for (const file of existsSync(issued) ? readdirSync(issued).filter((f) => f.endsWith('.cert.pem')).sort() : []) {
    const cert = new X509Certificate(readFileSync(path.join(issued, file)));
    const facts = certificateFacts(cert);
    if (!facts || revoked.has(facts.serial) || Date.parse(cert.validTo) < Date.now()) continue;
    const user = natsUserOf(facts.dvdv);
    if (seen.has(user)) continue; // a renewed certificate maps to the same user
    seen.add(user);
    const p = permissionsFor(facts.role, facts.dvdv);
    const permissions = p === 'all' ? '' : `, permissions: { publish: { allow: [${p.publish.map(quote).join(', ')}] }, subscribe: { allow: [${p.subscribe.map(quote).join(', ')}] } }`;
    users.push(`    { user: ${quote(user)}${permissions} }`);
  }
  return [
    'tls {',
    `  cert_file: ${quote(server.certFile)}`,
    `  key_file: ${quote(server.keyFile)}`,
    `  ca_file: ${quote(path.join(pkiDir, 'ca.cert.pem'))}`,
    '  verify_and_map: true',
    '  timeout: 5',
    '}',
    'authorization {',
    '  users = [',
    users.join('\n'),
    '  ]',
    '}',
  ].join('\n');
}

/** TLS options for a client connection with a party's certificate. */
export function natsTlsOptions(pkiDir: string, party: { certFile: string; keyFile: string }) {
  return { caFile: path.join(pkiDir, 'ca.cert.pem'), certFile: party.certFile, keyFile: party.keyFile };
}
