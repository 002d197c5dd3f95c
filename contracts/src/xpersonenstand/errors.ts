// Typed refusals of the XPersonenstand codecs: a stable `code` for machines and the path
// of the offending element for people.

export type XmlCodecErrorCode =
  | 'too-large'
  | 'too-deep'
  | 'doctype-forbidden'
  | 'malformed'
  | 'unknown-namespace'
  | 'unsupported-message'
  | 'missing-element'
  | 'invalid-date'
  | 'birth-after-message'
  | 'date-in-future'
  | 'invalid-name'
  | 'invalid-value'
  | 'confidential-birth'
  | 'join-mismatch'
  | 'missing-consent';

export class XmlCodecError extends Error {
  override readonly name = 'XmlCodecError';
  constructor(
    readonly code: XmlCodecErrorCode,
    message: string,
    /** Path of the offending element, e.g. `/xp:portal2StA.Geburt.081020/xp:kind/xp:geschlecht`. */
    readonly path: string = '/',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): { code: XmlCodecErrorCode; message: string; path: string } {
    return { code: this.code, message: this.message, path: this.path };
  }
}
