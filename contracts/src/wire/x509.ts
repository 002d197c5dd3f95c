// The one place that loads @peculiar/x509: it needs reflect-metadata loaded first and a
// WebCrypto provider. Also the names the exchange puts into certificates, and the few DER
// helpers that node:crypto and @peculiar/x509 do not offer synchronously.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { Role } from '../envelope.ts';

// Node's WebCrypto (globalThis.crypto is node:crypto's webcrypto from Node 19 on).
x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

/** The SAN URI that names a party's role. */
export const sanRole = (role: Role): string => `urn:elfe:role:${role}`;
/** The SAN URI that names a party's DVDV address. */
export const sanDvdv = (dvdv: string): string => `urn:elfe:dvdv:${dvdv}`;
export const roleUriPrefix = 'urn:elfe:role:';
export const dvdvUriPrefix = 'urn:elfe:dvdv:';

/** ECDSA P-256 with SHA-256, the only signature algorithm of the exchange's PKI. */
export const ecdsaP256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A DNS name as certificates carry it (lowercase labels). */
export const hostNamePattern = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** A party's name (O=): DIN 91379 text, 1 to 200 characters, no control characters. */
export const partyNamePattern = /^[^\u0000-\u001f\u007f-\u009f]{1,200}$/;

/** Serial numbers as the exchange writes them: uppercase hex, no leading zeros. */
export const normalizeSerial = (serial: string): string => serial.toUpperCase().replace(/^0+(?=.)/, '');

/** A DER TLV read at `offset`: where its value starts and where the element ends. */
interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
}

/** Reads one DER element header; throws RangeError on anything out of bounds (hostile input). */
export function readTlv(der: Uint8Array, offset: number): Tlv {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) throw new RangeError('truncated DER');
  let length = first;
  let valueStart = offset + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new RangeError('unsupported DER length');
    length = 0;
    for (let i = 0; i < n; i++) {
      const b = der[offset + 2 + i];
      if (b === undefined) throw new RangeError('truncated DER');
      length = length * 256 + b;
    }
    valueStart += n;
  }
  const end = valueStart + length;
  if (end > der.length) throw new RangeError('truncated DER');
  return { tag, start: offset, valueStart, end };
}

/** The to-be-signed bytes and the signature of a signed X.509 structure (certificate, CRL). */
export function signedParts(der: Uint8Array): { tbs: Uint8Array; signature: Uint8Array } {
  const outer = readTlv(der, 0);
  if (outer.tag !== 0x30 || outer.end !== der.length) throw new RangeError('not a DER SEQUENCE');
  const tbs = readTlv(der, outer.valueStart);
  const algorithm = readTlv(der, tbs.end);
  const bits = readTlv(der, algorithm.end);
  if (tbs.tag !== 0x30 || algorithm.tag !== 0x30 || bits.tag !== 0x03 || bits.end !== outer.end || der[bits.valueStart] !== 0) {
    throw new RangeError('not a signed X.509 structure');
  }
  return { tbs: der.subarray(tbs.start, tbs.end), signature: der.subarray(bits.valueStart + 1, bits.end) };
}

/** DER INTEGER of a non-negative safe integer (the CRL number). */
export function derInteger(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError('expected a non-negative safe integer');
  const bytes: number[] = [];
  let v = value;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return Uint8Array.from([0x02, bytes.length, ...bytes]);
}

/** Reads a DER INTEGER as a number (refuses negative and larger-than-safe values). */
export function readDerInteger(der: Uint8Array): number {
  const tlv = readTlv(der, 0);
  if (tlv.tag !== 0x02 || tlv.end !== der.length || tlv.end - tlv.valueStart > 7) throw new RangeError('not a small DER INTEGER');
  if (der[tlv.valueStart]! & 0x80) throw new RangeError('negative INTEGER');
  let value = 0;
  for (let i = tlv.valueStart; i < tlv.end; i++) value = value * 256 + der[i]!;
  return value;
}

/** The first values of the subject attribute `type` (e.g. 'O'), as text. */
export const subjectField = (name: x509.Name, type: string): string | undefined => name.getField(type)[0];

/** SAN entries of a certificate or request, by type. */
export function altNames(extensions: readonly x509.Extension[]): { uris: string[]; emails: string[]; dns: string[]; ips: string[]; other: number } {
  const out = { uris: [] as string[], emails: [] as string[], dns: [] as string[], ips: [] as string[], other: 0 };
  for (const ext of extensions) {
    if (!(ext instanceof x509.SubjectAlternativeNameExtension)) continue;
    for (const n of ext.names.items) {
      if (n.type === 'url') out.uris.push(n.value);
      else if (n.type === 'email') out.emails.push(n.value);
      else if (n.type === 'dns') out.dns.push(n.value);
      else if (n.type === 'ip') out.ips.push(n.value);
      else out.other++;
    }
  }
  return out;
}
