// The CA's desk under attack: requests an attacker sends the exchange operator, signed with the
// operator's own command (`elfe pki sign … --yes`, as a script would), against the CA that
// `elfe exchange init` laid out; the hub (`elfe hub start`) runs beside it. The desk issues only
// for a registered party whose request matches its entry; the hub encrypts only to the
// registered holder of an address. Every command is its own process (bin/elfe.js).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { decryptPayload, ecdsaP256, formatRegisterKey, sanDvdv, sanRole, x509, type BirthRegisteredData } from '../../contracts/index.ts';
import { registered } from '../../hub/src/routing/testing.ts';
import { natsAvailable, natsSkipReason } from '../support/natsServer.ts';
import { asProducer, birthOf, codeOf, startLiveExchange, submit, type LiveExchange } from '../support/liveExchange.ts';
import { runElfe } from '../support/processes.ts';
import { tmpDir } from '../support/parties.ts';
import { until } from '../../hub/src/runner/until.ts';

if (!natsAvailable) console.warn(`skipped: ${natsSkipReason}`);

const EGS = 'egs:11000000';
const STA = 'sta-11007007';

/** The last line of a command's output, as JSON (the answer or the typed error). */
const answer = (r: { stdout: string }): Record<string, unknown> => JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
const errorCode = (r: { stdout: string }): unknown => (answer(r)['error'] as { code?: string } | undefined)?.code;

describe.skipIf(!natsAvailable)("the CA's desk", () => {
  let x: LiveExchange;
  let sta: NatsConnection;
  const issued = () => readdirSync(path.join(x.caDir, 'issued')).filter((f) => f.endsWith('.cert.pem')).sort();
  const register = () => JSON.parse(readFileSync(path.join(x.caDir, 'register.json'), 'utf8')) as { entries: { dvdv?: string; name: string; holder?: string; role?: string }[] };
  const holderOf = (dvdv: string) => register().entries.find((e) => e.dvdv === dvdv)?.holder;
  /** A party's key and request, made with its own command in its own directory. */
  const request = async (label: string, ...args: string[]) => {
    const out = path.join(tmpDir(`desk-${label}`), 'party');
    const r = await runElfe(['pki', 'request', ...args, '--out', out]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return { dir: out, csr: path.join(out, 'request.csr'), key: path.join(out, 'key.pem') };
  };
  /** The operator's command, in a script. */
  const sign = (csr: string, ...more: string[]) => runElfe(['pki', 'sign', csr, '--dir', x.caDir, '--yes', '--json', ...more]);

  /** A birth in Berlin with the parents' consent for the Elterngeldstelle; its delivery's JWE. */
  const deliveredJwe = async (eintragsnummer: string): Promise<{ jwe: string; deliveryId: string }> => {
    const b: BirthRegisteredData = birthOf('11007007', eintragsnummer);
    expect(codeOf(await submit(sta, asProducer(registered(b), x.party(STA)), x.party(STA).signer))).toBe('ok');
    let found: { payloadJwe?: string; deliveryId: string } | undefined;
    await until(() => {
      found = x
        .log()
        .filter((r) => r.type === 'DeliveryScheduled')
        .map((r) => r.event.data as unknown as { payloadJwe?: string; deliveryId: string; recipient: { dvdv: string }; registerKey: Parameters<typeof formatRegisterKey>[0] })
        .find((d) => d.recipient.dvdv === EGS && formatRegisterKey(d.registerKey) === formatRegisterKey(b.registerKey));
      return found !== undefined;
    }, { what: `the delivery of ${eintragsnummer} to ${EGS}` });
    expect(found!.payloadJwe).toBeDefined();
    return { jwe: found!.payloadJwe!, deliveryId: found!.deliveryId };
  };
  const opens = async (d: { jwe: string; deliveryId: string }, keyFile: string) => (await decryptPayload(d.jwe, createPrivateKey(readFileSync(keyFile)), d.deliveryId)).success;

  beforeAll(async () => {
    x = await startLiveExchange('ca-desk');
    sta = await x.connectAs(STA);
  });
  afterAll(async () => {
    await sta?.close();
    await x?.stop();
  });

  it('refuses an impostor hub: a request for the hub role and address is not signed', async () => {
    const before = issued();
    for (const dvdv of ['hub:elfe-hub', 'hub:ingress']) {
      const impostor = await request('hub', '--role', 'hub', '--dvdv', dvdv, '--name', 'elfe-hub');
      const r = await sign(impostor.csr);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(errorCode(r)).toBe('hub-identity');
    }
    expect(issued()).toEqual(before);
  });

  it("refuses a second key for an agency's address without --replaces", async () => {
    const before = issued();
    const rogue = await request('takeover', '--role', 'elterngeldstelle', '--dvdv', EGS, '--name', 'Elterngeldstelle Berlin');
    const plain = await sign(rogue.csr);
    expect(plain.code, plain.stdout + plain.stderr).toBe(2);
    expect(errorCode(plain)).toBe('address-held');
    const holder = holderOf(EGS);
    expect(holder).toBeDefined();
    // Naming some other certificate is no rotation either.
    const fkaSerial = holderOf('fka:ost')!;
    const wrong = await sign(rogue.csr, '--replaces', fkaSerial);
    expect(errorCode(wrong)).toBe('address-held');
    expect(issued()).toEqual(before);
    expect(holderOf(EGS)).toBe(holder);
  });

  it('the hub never encrypts to a certificate for an agency address that the register does not name', async () => {
    const rogue = await request('outside', '--role', 'elterngeldstelle', '--dvdv', EGS, '--name', 'Elterngeldstelle Berlin');
    // A certificate for the address made with the CA key outside the desk (newer than the
    // holder's, valid, not revoked) lies among the published certificates: the hub ignores it.
    const csr = new x509.Pkcs10CertificateRequest(readFileSync(rogue.csr, 'utf8'));
    const caCert = new x509.X509Certificate(readFileSync(path.join(x.caDir, 'ca.cert.pem'), 'utf8'));
    const caDer = Buffer.from(readFileSync(path.join(x.caDir, 'ca.key.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const caKey = await crypto.subtle.importKey('pkcs8', caDer, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const serial = '7E57AB1E0000000000000000000000AA';
    const outside = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: new x509.Name([{ CN: [{ utf8String: EGS }] }, { O: [{ utf8String: 'Elterngeldstelle Berlin' }] }, { OU: [{ utf8String: 'elterngeldstelle' }] }]),
      issuer: caCert.subjectName,
      notBefore: new Date(Date.now() - 1_000),
      notAfter: new Date(Date.now() + 86_400_000),
      publicKey: csr.publicKey,
      signingKey: caKey,
      signingAlgorithm: ecdsaP256,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.SubjectAlternativeNameExtension([
          { type: 'url', value: sanRole('elterngeldstelle') },
          { type: 'url', value: sanDvdv(EGS) },
          { type: 'email', value: `${serial.toLowerCase()}@egs.11000000.elfe-hub.invalid` },
        ]),
      ],
    });
    const reloads = () => x.hub.output.split('nats.users-reloaded').length;
    const before = reloads();
    writeFileSync(path.join(x.caDir, 'issued', `${serial}.cert.pem`), `${outside.toString('pem')}\n`);
    // The hub takes the new certificate into the nats-server's users at once (a SIGHUP reload);
    // a request in flight during the reload can lose its answer, so the birth is sent after it.
    await until(() => reloads() > before, { what: 'the nats-server users reloaded with the new certificate' });
    const delivery = await deliveredJwe('901');
    expect(await opens(delivery, path.join(x.root, 'parties', 'egs-11000000', 'key.pem'))).toBe(true);
    expect(await opens(delivery, rogue.key)).toBe(false);
  });

  it('refuses a role with another role’s address', async () => {
    const mixed = await request('mixed', '--role', 'standesamt', '--dvdv', EGS, '--name', 'Standesamt Berlin');
    const r = await sign(mixed.csr);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(errorCode(r)).toBe('role-mismatch');
    const registering = await runElfe(['pki', 'register', '--dir', x.caDir, '--role', 'standesamt', '--dvdv', 'egs:99000000', '--name', 'X']);
    expect(errorCode(registering)).toBe('role-mismatch');
  });

  it("refuses server names in a party's request, and unregistered names for a server", async () => {
    const before = issued();
    const party = await request('names', '--role', 'familienkasse', '--dvdv', 'fka:ost', '--name', 'Familienkasse Ost', '--server-name', 'hub.example', '--server-name', '10.0.0.1');
    const r = await sign(party.csr);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(errorCode(r)).toBe('server-names');
    const server = await request('names-server', '--tls-server', '--name', 'nats-server', '--server-name', 'localhost', '--server-name', 'nats.evil.example');
    const s = await sign(server.csr);
    expect(errorCode(s)).toBe('server-names');
    expect(issued()).toEqual(before);
  });

  it("refuses a validity beyond the CA's own or beyond the maximum, and caps the default", async () => {
    const shortCa = path.join(tmpDir('desk-short-ca'), 'ca');
    expect((await runElfe(['pki', 'init', '--dir', shortCa, '--days', '30'])).code).toBe(0);
    const party = await request('validity', '--role', 'standesamt', '--dvdv', 'psw:09000000', '--name', 'Standesamt Köln');
    const long = await runElfe(['pki', 'sign', party.csr, '--dir', shortCa, '--days', '365', '--yes', '--json']);
    expect(long.code, long.stdout + long.stderr).toBe(2);
    expect(errorCode(long)).toBe('validity');
    const overMax = await sign(party.csr, '--days', '3000');
    expect(errorCode(overMax)).toBe('validity');
    // Registered, without --days: the certificate ends no later than the CA.
    expect((await runElfe(['pki', 'register', '--dir', shortCa, '--role', 'standesamt', '--dvdv', 'psw:09000000', '--name', 'Standesamt Köln'])).code).toBe(0);
    const capped = await runElfe(['pki', 'sign', party.csr, '--dir', shortCa, '--yes', '--json', '--out', path.join(party.dir, 'cert.pem')]);
    expect(capped.code, capped.stdout + capped.stderr).toBe(0);
    const caEnd = Date.parse(new X509Certificate(readFileSync(path.join(shortCa, 'ca.cert.pem'))).validTo);
    expect(Date.parse(new X509Certificate(readFileSync(path.join(party.dir, 'cert.pem'))).validTo)).toBeLessThanOrEqual(caEnd);
  });

  it('refuses to sign the same request twice', async () => {
    const before = issued();
    const csr = path.join(x.root, 'parties', 'fka-ost', 'request.csr'); // signed by `elfe exchange init`
    const again = await sign(csr, '--out', path.join(tmpDir('desk-again'), 'cert.pem'));
    expect(again.code, again.stdout + again.stderr).toBe(2);
    expect(errorCode(again)).toBe('already-signed');
    const rotated = await sign(csr, '--out', path.join(tmpDir('desk-again'), 'cert.pem'), '--replaces', holderOf('fka:ost')!);
    expect(errorCode(rotated)).toBe('already-signed');
    expect(issued()).toEqual(before);
  });

  it('rotates an address with --replaces: shown before signing, logged, and the hub encrypts to the new holder', async () => {
    const old = holderOf(EGS)!;
    const renewed = await request('rotation', '--role', 'elterngeldstelle', '--dvdv', EGS, '--name', 'Elterngeldstelle Berlin');
    // What the operator sees before anything is signed (no terminal, no --yes: nothing signed).
    const shown = await runElfe(['pki', 'sign', renewed.csr, '--dir', x.caDir, '--replaces', old]);
    expect(shown.code).toBe(2);
    expect(shown.stdout).toContain(`address      ${EGS}`);
    expect(shown.stdout).toContain(`replaces     ${old}`);
    expect(shown.stdout).toMatch(/key {10}SHA256:[0-9a-f:]{95}/);
    expect(errorCode(shown)).toBe('not-confirmed');
    const r = await sign(renewed.csr, '--replaces', old, '--out', path.join(renewed.dir, 'cert.pem'));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { serial } = answer(r) as { serial: string };
    expect(answer(r)).toMatchObject({ role: 'elterngeldstelle', dvdv: EGS, replaces: old, keyFingerprint: expect.stringMatching(/^SHA256:/) });
    expect(holderOf(EGS)).toBe(serial);
    const status = await runElfe(['pki', 'status', '--dir', x.caDir, '--json']);
    const st = answer(status) as { certificates: { serial: string; holds?: string }[]; issuanceLog: { valid: boolean } };
    expect(st.certificates.find((c) => c.serial === serial)?.holds).toBe(EGS);
    expect(st.issuanceLog.valid).toBe(true);
    const log = readFileSync(path.join(x.caDir, 'issuance.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(log.at(-1)).toMatchObject({ action: 'issue', serial, replaces: old, dvdv: EGS });

    const delivery = await deliveredJwe('902');
    expect(await opens(delivery, renewed.key)).toBe(true);
    expect(await opens(delivery, path.join(x.root, 'parties', 'egs-11000000', 'key.pem'))).toBe(false);
  });
});
