// `elfe <command> --help` beyond the usage line: each option with its default, the valid roles
// and address forms, and an example. Kept apart from the command modules (it is text only, and
// the build copies it into the manifest, so `--help` loads no command module). A command's own
// `options`/`notes`/`examples` take precedence over what is here.
import type { Command, CommandHelp } from './command.ts';

const roles = 'standesamt, meldebehoerde, elterngeldstelle, familienkasse, auditor, cockpit (Datenschutzcockpit), hub';
const addresses =
  'Addresses (DVDV) are <prefix>:<kennung>, the prefix fixed by the role: psw:<Standesamtsnummer> (standesamt, e.g. psw:11007007), mbh: (meldebehoerde, e.g. mbh:demo), egs: (elterngeldstelle, e.g. egs:11000000), fka: (familienkasse, e.g. fka:nord), aud: (auditor, e.g. aud:bfdi), dsc: (cockpit); the hub is hub:elfe-hub, its ingress responder hub:ingress.';
const registerKey = 'A register key is <Standesamtsnummer>/<Registerart>/<Jahr>/<Eintragsnummer>, e.g. 11007007/G/2026/334 (G: Geburtenregister).';
const json = { flag: '--json', text: 'machine-readable output; a failure as {"error":{code,message,hint}} on stderr' } as const;
const config = (what: string) => ({ flag: '--config FILE', text: `${what}'s config.json (written by elfe exchange init or elfe init)`, default: 'required' }) as const;
const hubData = { flag: '--data DIR', text: "the hub's data directory (log, keys)", default: '$ELFE_DATA_DIR, else ./data/hub' } as const;
const caDir = { flag: '--dir CA_DIR', text: "the CA's directory (its key never leaves it)", default: '$ELFE_PKI_DIR, else ./data/pki' } as const;
const exchangeData = { flag: '--data DIR', text: 'where the exchange is laid out (ca/, hub/, parties/); ignored by git (a .gitignore inside)', default: './data' } as const;
const witnessPort = { flag: '--witness-port PORT', text: "the local witness's port on 127.0.0.1 (kept in witness/config.json once written)", default: 'a free port, chosen when laid out' } as const;
const ports = [
  { flag: '--nats-port PORT', text: "the hub's nats-server port (kept in hub/config.json once written)", default: '4222' },
  { flag: '--metrics-port PORT', text: 'Prometheus metrics on 127.0.0.1', default: '9464' },
] as const;

export const commandHelp: Readonly<Record<string, CommandHelp>> = {
  'keys show': { options: [hubData, json], examples: ['elfe keys show --data data/hub'] },
  'audit verify': {
    options: [
      hubData,
      { flag: '--config HUB.json', text: "read the data directory and log store from the hub's configuration" },
      { flag: '--key HUB.pub', text: "the hub's public key (or verifier key)", default: "the key in the data directory" },
      { flag: '--ca FILE', text: 'CA certificate for the signature audit', default: 'DIR/../ca/ca.cert.pem' },
      { flag: '--crl FILE', text: 'CRL for the signature audit', default: 'crl.pem next to the CA certificate' },
      { flag: '--checkpoint FILE', text: 'a checkpoint to check against the log (repeatable)' },
      { flag: '--witness-key KEY', text: "a witness's verifier key whose cosignature the checkpoint must carry (repeatable)" },
      json,
    ],
    notes: ['Exit 0: the log is intact; 1: it is not (first bad position and reason printed).'],
    examples: ['elfe audit verify --data data/hub --ca data/ca/ca.cert.pem --crl data/ca/crl.pem'],
  },
  'audit proof': {
    options: [hubData, { flag: '--format json|tlog-proof', text: 'the proof format', default: 'json' }, json],
    notes: ['ID: an event id, message id or delivery id from the log.'],
    examples: ['elfe audit proof 3f2a…-uuid --data data/hub > proof.json'],
  },
  'audit verify-proof': { options: [{ flag: '--key HUB.pub', text: "the hub's public key", default: 'required' }, { flag: '--witness-key KEY', text: 'required witness cosignatures (tlog-proof only, repeatable)' }, json], examples: ['elfe audit verify-proof proof.json --key hub.pub'] },
  'audit consistency': {
    options: [{ flag: '--from SIZE', text: 'the older tree size', default: 'required' }, { flag: '--to SIZE', text: 'the newer tree size', default: 'the latest checkpoint' }, hubData, { flag: '--key HUB.pub', text: "the hub's public key", default: 'the key in the data directory' }, json],
    examples: ['elfe audit consistency --from 100 --data data/hub'],
  },
  'audit checkpoint': { options: [hubData], examples: ['elfe audit checkpoint --data data/hub'] },
  'cluster nats': {
    options: [
      { flag: '--nodes N', text: 'nodes, 1 to 9', default: '3' },
      { flag: '--dir DIR', text: "the nodes' directories and stores", default: 'required' },
      { flag: '--base-port P', text: 'client ports P..P+n-1, route ports P+100..', default: 'free ports' },
      { flag: '--ca DIR', text: 'the CA that signs the node certificates', default: './data/ca' },
      json,
    ],
    examples: ['elfe cluster nats --nodes 3 --dir data/nats --ca data/ca --base-port 14222'],
  },
  'idnr check': { options: [{ flag: '--test-ids', text: 'accept test IdNrs (leading 0)', default: 'refused' }, json], notes: ['An IdNr has 11 digits with a check digit (§ 139b AO). Exit 0 valid, 2 invalid.'], examples: ['elfe idnr check 36574261809'] },
  'schemas export': { options: [{ flag: '--out DIR', text: 'where the JSON Schemas go', default: 'contracts/schemas/' }], examples: ['elfe schemas export --out /tmp/schemas'] },
  erase: {
    options: [
      { flag: '--register KEY', text: "the birth case's register key", default: 'required' },
      { flag: '--reason TEXT', text: 'recorded with the erasure', default: 'Art. 17 DSGVO: erasure on request' },
      { flag: '--config HUB-CONFIG', text: "the hub's configuration (the running hub is asked through its API)" },
      hubData,
      json,
    ],
    notes: [registerKey],
    examples: ['elfe erase --register 11007007/G/2026/334 --config data/hub/config.json'],
  },
  'hub start': {
    options: [{ flag: '--config FILE', text: "the hub's configuration (dataDir, nats, trust, metrics, api, routing)", default: 'the embedded defaults with ./data/hub' }, json],
    notes: [
      "Before anything starts the hub checks its identities: its own certificate (<dataDir>/cert.pem, hub:elfe-hub), its ingress responder's (<dataDir>/ingress/, hub:ingress), the nats-server's TLS identity (nats.serverDir, without nats.url) and the API's (<dataDir>/api/, with api), and that its ports are free. A failure is named with what to do, exit 2, and nothing is left running.",
      'Prints "ready: …" on stdout once it serves; logs JSON lines on stderr; stops on SIGTERM.',
    ],
    examples: ['elfe hub start --config data/hub/config.json'],
  },
  'hub accept-shorter-log': {
    options: [
      { flag: '--config FILE', text: "the hub's configuration", default: 'required' },
      { flag: '--size N', text: 'the entries the log holds now (checked against it)', default: 'required' },
      { flag: '--reason TEXT', text: 'why the signed entries cannot be restored (recorded)', default: 'required' },
      json,
    ],
    notes: ['Only after restoring what could be restored; the next start records the acceptance in the log.'],
    examples: ['elfe hub accept-shorter-log --config data/hub/config.json --size 1200 --reason "disk lost; restored from the backup of 2 May"'],
  },
  'exchange init': {
    options: [exchangeData, ...ports, { flag: '--api-port PORT', text: 'the HTTP API and dashboard (mutual TLS)', default: 'off' }, witnessPort, json],
    notes: [`Lays out the CA, the hub (with all its identities), one directory per party with its own key, certificate and config.json, and a local witness in DIR/witness/ (its own key, state and config.json; named in the hub's "witnesses"; run it with elfe witness start --config DIR/witness/config.json). ${addresses}`],
    examples: ['elfe exchange init --data data --api-port 8443'],
  },
  start: {
    options: [exchangeData, ...ports, { flag: '--api-port PORT', text: 'the HTTP API and dashboard (mutual TLS)', default: '8443' }, witnessPort, json],
    notes: [
      'Lays out ./data on the first run (as elfe exchange init), checks the hub\'s identities and ports, starts the local witness (data/witness/: it cosigns every checkpoint of the hub) and the hub and, once it is ready, one connector per agency and one watch directory per Standesamt, each its own process. A busy port stops it at once, naming the port. A child that dies is started again with a growing pause; one that dies 5 times in a row soon after starting (or refuses to start) is reported with its last lines and ends elfe start (exit 2).',
    ],
    examples: ['elfe start', 'elfe start --data /srv/elfe --nats-port 14222 --api-port 18443'],
  },
  demo: {
    options: [
      { flag: '--births N', text: 'synthetic births to send', default: '100' },
      { flag: '--data DIR', text: "where the demo's exchange is laid out (an earlier demo's directory is replaced; any other non-empty one refused)", default: './data/demo' },
      { flag: '--seed S', text: 'seed of the synthetic births', default: '20261124' },
      { flag: '--keep', text: 'keep the exchange running after the births (dashboard) until Ctrl-C' },
      { flag: '--verbose', text: "show every process's log lines, not only warnings and errors" },
      { flag: '--json', text: 'the summary as one JSON object on stdout' },
    ],
    examples: ['elfe demo --births 1000', 'elfe demo --births 50 --keep'],
  },
  'pki init': { options: [caDir, { flag: '--name NAME', text: "the CA's name", default: 'elfe-hub exchange CA' }, { flag: '--days N', text: "the CA certificate's validity", default: '3650' }], notes: ['Writes the CA key (0600), certificate, CRL and issued/; the directory gets a .gitignore so that its key is never committed.'], examples: ['elfe pki init --dir ca'] },
  'pki request': {
    options: [
      { flag: '--role ROLE', text: `the party's role: ${roles}` },
      { flag: '--dvdv ADDRESS', text: "the party's address (see below)" },
      { flag: '--tls-server', text: 'a TLS server identity instead (nats-server, the API)' },
      { flag: '--name NAME', text: 'the display name in the certificate', default: 'required' },
      { flag: '--out DIR', text: 'where key.pem (0600) and request.csr go', default: 'required' },
      { flag: '--server-name HOST', text: 'a host name or IP the server answers as (repeatable)' },
    ],
    notes: [addresses],
    examples: ['elfe pki request --role elterngeldstelle --dvdv egs:11000000 --name "Elterngeldstelle Berlin" --out egs'],
  },
  'pki sign': {
    options: [
      caDir,
      { flag: '--days N', text: 'validity', default: '365 (never beyond the CA)' },
      { flag: '--out FILE', text: 'the certificate', default: 'cert.pem next to the request' },
      { flag: '--replaces SERIAL', text: 'a key change: the new certificate replaces this one for the same address' },
      { flag: '--allow-hub-identity', text: "sign a hub identity (hub:elfe-hub, hub:ingress): loud and explicit" },
      { flag: '--nats-node', text: "a NATS cluster node's certificate (routes)" },
      { flag: '--yes', text: 'do not ask before signing' },
      json,
    ],
    notes: ['Signs only what the register allows for the address (elfe pki register).'],
    examples: ['elfe pki sign egs/request.csr --dir ca --out egs/cert.pem --yes'],
  },
  'pki register': {
    options: [caDir, { flag: '--role ROLE', text: `one of: ${roles}` }, { flag: '--dvdv ADDRESS', text: 'the address' }, { flag: '--tls-server', text: 'a TLS server entry' }, { flag: '--name NAME', text: 'display name' }, { flag: '--server-name HOST', text: 'server names (repeatable)' }, { flag: '--allow-hub-identity', text: 'register a hub identity' }, json],
    notes: ['Without an entry: lists the register.', addresses],
    examples: ['elfe pki register --dir ca --role elterngeldstelle --dvdv egs:11000000 --name "Elterngeldstelle Berlin"'],
  },
  'pki revoke': { options: [caDir, { flag: '--reason REASON', text: 'unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise', default: 'unspecified' }], examples: ['elfe pki revoke 16A087DA1AB4C0852EB592462EABAF0C --dir ca --reason superseded'] },
  'pki crl': { options: [caDir, { flag: '--days N', text: "the CRL's nextUpdate", default: '30' }], examples: ['elfe pki crl --dir ca'] },
  'pki status': { options: [caDir, { flag: '--warn-days N', text: 'flag certificates expiring within N days', default: '30' }, json], examples: ['elfe pki status --dir ca'] },
  'standesamt submit': {
    options: [{ flag: '--with 081021.xml', text: 'the supplement (consent, application number)' }, { flag: '--register KEY', text: 'the register key assigned at Beurkundung', default: 'required' }, config('the Standesamt'), { flag: '--message-id UUID', text: 'idempotency id', default: 'derived from the content' }, json],
    notes: [registerKey, 'Exit 0 registered, 2 refused (reason and what to do), 75 not answered yet (kept in the outbox; run again).'],
    examples: ['elfe standesamt submit 081020.xml --with 081021.xml --register 11007007/G/2026/334 --config sta/config.json'],
  },
  'standesamt correct': {
    options: [{ flag: '--with 081021.xml', text: 'the supplement' }, { flag: '--register KEY', text: 'the registered birth', default: 'required' }, { flag: '--reason TEXT', text: 'the legal reason', default: 'required' }, config('the Standesamt'), { flag: '--message-id UUID', text: 'idempotency id' }, json],
    notes: [registerKey],
    examples: ['elfe standesamt correct 081020.xml --with 081021.xml --register 11007007/G/2026/334 --reason "Berichtigung (§ 47 PStG)" --config sta/config.json'],
  },
  'standesamt withdraw': { options: [{ flag: '--register KEY', text: 'the registered birth', default: 'required' }, { flag: '--at ISO-TIME', text: 'when the parents withdrew', default: 'now' }, config('the Standesamt'), { flag: '--message-id UUID', text: 'idempotency id' }, json], notes: [registerKey], examples: ['elfe standesamt withdraw --register 11007007/G/2026/334 --config sta/config.json'] },
  'meldebehoerde idnr': {
    options: [
      { flag: '--register KEY', text: 'the registered birth', default: 'required' },
      { flag: '--child IDNR', text: "the child's IdNr", default: 'required' },
      { flag: '--parent IDNR', text: "the first parent's IdNr" },
      { flag: '--parent2 IDNR', text: "the second parent's IdNr" },
      { flag: '--correct REASON', text: 'replace an earlier IdNr, with the reason' },
      config('the Meldebehörde'),
      { flag: '--message-id UUID', text: 'idempotency id' },
      json,
    ],
    notes: [registerKey],
    examples: ['elfe meldebehoerde idnr --register 11007007/G/2026/334 --child 36574261809 --parent 86095742719 --config mbh/config.json'],
  },
  'standesamt watch': {
    options: [config('the Standesamt'), { flag: '--once', text: 'scan once and exit (exit 1 if one failed)' }, json],
    notes: ['Files: <nummer>_G_<jahr>_<eintrag>.081020.xml [+ .081021.xml]; done/ once registered, failed/ with the reason.'],
    examples: ['elfe standesamt watch data/parties/sta-11007007/watch --config data/parties/sta-11007007/config.json'],
  },
  'standesamt status': { options: [config('the Standesamt'), { flag: '--register KEY', text: 'only this birth' }, json], notes: [registerKey], examples: ['elfe standesamt status --config data/parties/sta-11007007/config.json'] },
  'meldebehoerde status': { options: [config('the Meldebehörde'), { flag: '--register KEY', text: 'only this birth' }, json], examples: ['elfe meldebehoerde status --config data/parties/mbh-demo/config.json'] },
  'witness key create': { options: [{ flag: '--out FILE', text: "the witness's key file (0600)", default: 'required' }, { flag: '--name NAME', text: "the witness's name", default: 'required' }, json], examples: ['elfe witness key create --out witness.key --name witness.example'] },
  'witness start': {
    options: [
      { flag: '--config FILE', text: "the witness's config.json (elfe init witness, elfe exchange init: key, log, host, port, state); each option below overrides it" },
      { flag: '--key FILE', text: "the witness's key", default: 'required without --config' },
      { flag: '--log VERIFIER_KEY', text: "a log's verifier key to cosign (repeatable)", default: 'required without --config' },
      { flag: '--port P', text: 'HTTP port', default: 'a free port' },
      { flag: '--host H', text: 'listen address', default: '127.0.0.1' },
      { flag: '--state DIR', text: 'the last cosigned checkpoint per log, and the lock (one witness process per state)', default: './data/witness' },
      json,
    ],
    notes: ['Prints "ready: …" on stdout once it listens. A second witness on the same state directory is refused (data-dir-locked, exit 2); a dead one\'s lock is taken over, and it continues from the size it last cosigned.'],
    examples: ['elfe witness start --config data/witness/config.json', 'elfe witness start --key witness.key --log "$(elfe keys show --data data/hub --json | jq -r .verifierKey)" --port 8480'],
  },
  init: {
    options: [
      { flag: '--dir DIR', text: "the party's own directory (its key stays there)", default: 'required' },
      { flag: '--hub nats://HOST:PORT', text: "the hub's NATS address (several nodes comma-separated)" },
      { flag: '--ca-cert FILE', text: "the exchange CA's certificate (public)" },
      { flag: '--crl FILE', text: "the CA's CRL", default: 'crl.pem next to the CA certificate' },
      { flag: '--dvdv ADDRESS', text: "the party's address (see below)" },
      { flag: '--name NAME', text: 'the display name in the certificate' },
      { flag: '--server-name HOST', text: 'host names of a server identity (hub, nats-server node; repeatable)' },
      { flag: '--api-port PORT', text: "the hub's HTTP API (hub only)", default: '8443' },
      { flag: '--external-nats', text: 'the hub uses NATS nodes of its own instead of a local nats-server (hub only)' },
      { flag: '--issued DIR', text: "the CA's published issued/ directory (hub only)" },
      { flag: '--api URL', text: "the hub's API (auditor, cockpit)" },
      { flag: '--port P', text: 'listen port (witness)' },
      json,
    ],
    notes: [addresses],
  },
  'routing show': { options: [{ flag: '--config HUB-CONFIG', text: "the hub's config.json", default: 'required' }, json] },
  'xml parse': { options: [{ flag: '--with 081021.xml', text: 'the supplement' }, { flag: '--register KEY', text: 'the register key (with --with)' }, json], notes: [registerKey], examples: ['elfe xml parse 081020.xml --with 081021.xml --register 11007007/G/2026/334'] },
  'xml render': {
    options: [{ flag: '--input BIRTH.json', text: 'the birth as JSON', default: 'required' }, { flag: '--author STANDESAMT.json', text: 'the author block' }, { flag: '--to ADDRESS', text: 'the recipient', default: "the birth's Elterngeldstelle" }, { flag: '--message-id UUID', text: 'the message id', default: 'a new UUID' }],
    examples: ['elfe xml render 131011 --input birth.json --to egs:04011000'],
  },
};

/** A command with its help filled in from the table (its own fields win; applying it twice changes nothing). */
export function withHelp(command: Command): Command {
  const help = commandHelp[command.path.join(' ')];
  if (!help) return command;
  return {
    ...command,
    ...(command.options ?? help.options ? { options: command.options ?? help.options } : {}),
    ...(command.notes ?? help.notes ? { notes: command.notes ?? help.notes } : {}),
    ...(command.examples ?? help.examples ? { examples: command.examples ?? help.examples } : {}),
  };
}
