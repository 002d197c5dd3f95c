// The nats-server configuration generated from the PKI: TLS on every connection, clients
// authenticated by their certificates (verify_and_map on the e-mail SAN), and subject
// permissions per role: a Standesamt may only submit, an agency may only consume its own
// deliveries and publish its own receipts, an auditor may only read, the hub may do all.
import { readFileSync } from 'node:fs';
import { readIssuedCertificates, type PublishedCertificate } from '../../../connectors/kit/caFiles.ts';
import { natsNodeRouteUser } from './nodeCertificates.ts';
import { consumerName, deliveryStream, deliverySubject, hubIdentity, hubIngressIdentity, inboxPrefixOf, parseCrl, receiptSubject, submitSubject, submitSubjectOf, type CrlSource, type Role } from '../../../contracts/index.ts';

interface Permissions {
  publish: string[];
  subscribe: string[];
  /** May publish responses to the reply subjects of messages it received (and nothing else). */
  allowResponses?: boolean;
}

/**
 * What each certificate may do on NATS. Every party subscribes only below its own inbox
 * prefix, so it reads no other party's replies or JetStream answers. The hub itself has two
 * users: *the* hub (JetStream, deliveries, receipts) and its ingress responder, which may only
 * take submissions and answer them (`allow_responses`), so a sender-chosen reply subject can
 * never make the hub act with its JetStream rights.
 */
export function permissionsFor(role: Role, dvdv: string): Permissions | 'all' {
  const inbox = [`${inboxPrefixOf(dvdv)}.>`];
  switch (role) {
    case 'hub':
      if (dvdv === hubIdentity.dvdv) return 'all';
      if (dvdv === hubIngressIdentity.dvdv) return { publish: [], subscribe: [`${submitSubject}.>`], allowResponses: true };
      return { publish: [], subscribe: [] };
    case 'standesamt':
    case 'meldebehoerde':
      return { publish: [submitSubjectOf(dvdv)], subscribe: inbox };
    case 'elterngeldstelle':
    case 'familienkasse': {
      const consumer = consumerName(dvdv);
      // No stream info, listing or message access: those would show every recipient's counts
      // (STREAM.INFO with subject filters). An agency sees its own consumer only.
      return {
        publish: [
          '$JS.API.INFO',
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
    case 'cockpit':
      // The Datenschutzcockpit speaks HTTP to the hub's API only; nothing on NATS.
      return { publish: [], subscribe: [] };
    case 'auditor':
      return { publish: ['$JS.API.INFO', '$JS.API.STREAM.INFO.*', '$JS.API.STREAM.MSG.GET.*'], subscribe: inbox };
  }
}

const quote = (s: string) => JSON.stringify(s);

/** Empty allow lists become an explicit deny of everything (an empty allow list would allow all). */
function permissionBlock(p: Permissions): string {
  const list = (subjects: string[]) => (subjects.length > 0 ? `{ allow: [${subjects.map(quote).join(', ')}] }` : '{ deny: [">"] }');
  const parts = [...(p.allowResponses && p.publish.length === 0 ? [] : [`publish: ${list(p.publish)}`]), `subscribe: ${list(p.subscribe)}`];
  if (p.allowResponses) parts.push('allow_responses: { max: 1, expires: "1m" }');
  return parts.join(', ');
}

/** Where the CA's public material lies (the nats-server host needs no CA key). */
export interface NatsPkiFiles {
  readonly caCertFile: string;
  readonly crlFile: string;
  /** Directory of issued certificates (`*.cert.pem`), e.g. the CA's `issued/`. */
  readonly issuedDir: string;
}

/**
 * The `tls` and `authorization` blocks for nats-server: every issued, unrevoked, unexpired
 * certificate with an elfe role becomes a user named by its own e-mail SAN (so revoking a
 * certificate removes exactly its user). TLS-server-only certificates get none. nats-server
 * does not read CRLs itself: regenerate and reload (SIGHUP) after issuing or revoking.
 * With `revocation` (a checked CRL source: older and stale lists refused, the last good one
 * kept) the users follow its list in force; when no good list is in force, only the hub's own
 * certificates (role hub) keep a user, every other certificate is refused until a current CRL
 * arrives. Without it, the CRL file is read as it is.
 * `blocked` names users (e-mail SANs) left out for now (a certificate over its connection limit).
 * `issued` are the CA's certificates as its files' watcher read them (`CaFiles`); without it
 * `pki.issuedDir` is read once.
 */
export function natsSecurityConfig(
  pki: NatsPkiFiles,
  server: { certFile: string; keyFile: string },
  now = new Date(),
  revocation?: CrlSource,
  blocked?: ReadonlySet<string>,
  issued?: readonly PublishedCertificate[],
): string {
  let serials: ReadonlySet<string>;
  let onlyHub = false;
  if (revocation) {
    serials = revocation();
    onlyHub = revocation.unusable !== undefined;
  } else {
    const parsed = parseCrl(readFileSync(pki.crlFile), readFileSync(pki.caCertFile, 'utf8'));
    if (!parsed.success) throw parsed.error;
    serials = parsed.data.serials;
  }
  const users: string[] = [];
  for (const { facts, validFrom, validTo } of issued ?? readIssuedCertificates(pki.issuedDir, readFileSync(pki.caCertFile, 'utf8')).certificates) {
    if (!facts?.natsUser || serials.has(facts.serial) || (onlyHub && facts.role !== 'hub') || blocked?.has(facts.natsUser)) continue;
    if (now.getTime() > validTo || now.getTime() < validFrom) continue;
    const p = permissionsFor(facts.role, facts.dvdv);
    const permissions = p === 'all' ? '' : `, permissions: { ${permissionBlock(p)} }`;
    users.push(`    { user: ${quote(facts.natsUser)}${permissions} }`);
  }
  return [
    'tls {',
    `  cert_file: ${quote(server.certFile)}`,
    `  key_file: ${quote(server.keyFile)}`,
    `  ca_file: ${quote(pki.caCertFile)}`,
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

/**
 * A node's `cluster` block: routes over TLS, each side verifying the other's certificate against
 * the CA and mapping it (`verify_and_map`) to the one name only node certificates carry
 * (`natsNodeRouteUser`, see nodeCertificates.ts), the cluster's `authorization { user }`. A
 * certificate of any other role of the same CA (a Standesamt's, an agency's) cannot form a route.
 */
export function natsClusterConfig(cluster: {
  name: string;
  listen: string;
  routes: readonly string[];
  tls: { certFile: string; keyFile: string; caFile: string };
  /**
   * SHA-256 (hex) of the public keys of the node certificates that may form routes now (valid,
   * not revoked; `nodePins`); a revoked node's routes are closed on reload. Without it, any node certificate.
   */
  pinnedCerts?: readonly string[];
}): string {
  return [
    'cluster {',
    `  name: ${quote(cluster.name)}`,
    `  listen: ${cluster.listen}`,
    '  tls {',
    `    cert_file: ${quote(cluster.tls.certFile)}`,
    `    key_file: ${quote(cluster.tls.keyFile)}`,
    `    ca_file: ${quote(cluster.tls.caFile)}`,
    // Both ends of a route present a certificate of the CA and check the other's; the
    // accepting end takes it only if it maps to the node name below.
    '    verify_and_map: true',
    '    timeout: 5',
    ...(cluster.pinnedCerts ? [`    pinned_certs: [${cluster.pinnedCerts.map(quote).join(', ')}]`] : []),
    '  }',
    `  authorization { user: ${quote(natsNodeRouteUser)}, timeout: 5 }`,
    `  routes: [${cluster.routes.map(quote).join(', ')}]`,
    '}',
  ].join('\n');
}

/** TLS options for a client connection with a party's certificate. */
export function natsTlsOptions(caCertFile: string, party: { certFile: string; keyFile: string }) {
  return { caFile: caCertFile, certFile: party.certFile, keyFile: party.keyFile };
}
