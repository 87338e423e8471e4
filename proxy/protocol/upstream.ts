/** Client-side codec toward Redshift/PostgreSQL: startup and auth replies out, auth requests and login messages in (docs/design/wire-protocol.md §7). */
import { createHash } from 'node:crypto';
import { ProtocolError } from './protocol-error.js';
import { FrontendCode } from './codes.js';
import { BufferWriter } from './writer.js';

/** Authentication request codes (R). @see https://www.postgresql.org/docs/current/protocol-message-formats.html */
export const AuthCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
  RedshiftDigest: 13,
  RedshiftIdp: 14,
} as const;
export type AuthCode = (typeof AuthCode)[keyof typeof AuthCode];

/** Protocol 3.0 version code sent in every upstream StartupMessage. */
export const protocolVersion30 = 196608;

/** Hard caps on fields of login messages (never trust a length). */
export const upstreamLimits = {
  maxSaltBytes: 1024,
  maxNonceBytes: 1024,
  maxSaslMechanisms: 16,
  maxErrorFields: 64,
} as const;

/** Redshift digest algorithms by index (`algo` of R 13). */
export const redshiftDigestAlgorithms = ['SHA-256'] as const;

/** SSLRequest (F): `00 00 00 08 04 d2 16 2f`. */
export const sslRequest: Buffer = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Terminate (F): `X 00 00 00 04`. */
export const terminateMessage: Buffer = Buffer.from([0x58, 0, 0, 0, 4]);

/** `s` unchanged; throws if it holds a NUL, which would end a C string early (and shift every field after it). */
function noNul(s: string, what: string): string {
  if (s.includes('\0')) throw new Error(`${what} contains a NUL byte`);
  return s;
}

/** StartupMessage (F), protocol 3.0; keys must be non-empty; no NUL in keys or values. */
export function startupMessage(params: ReadonlyArray<readonly [string, string]>): Buffer {
  const w = new BufferWriter().int32(protocolVersion30);
  for (const [key, value] of params) {
    if (key.length === 0) throw new Error('startup parameter name is empty');
    w.cstring(noNul(key, 'startup parameter name')).cstring(noNul(value, `startup parameter ${key}`));
  }
  return w.byte(0).flush();
}

/** PasswordMessage (F) carrying a cleartext password. */
export function passwordMessage(password: string): Buffer {
  return new BufferWriter(FrontendCode.PasswordMessage).cstring(noNul(password, 'password')).flush();
}

/** The 35-character MD5 response: `"md5" + hex(md5(hex(md5(password ‖ user)) ‖ salt))`. */
export function md5PasswordHash(user: string, password: string, salt: Buffer): string {
  if (salt.length !== 4) throw new Error('md5 salt must be 4 bytes');
  const inner = createHash('md5').update(Buffer.from(password, 'utf8')).update(Buffer.from(user, 'utf8')).digest('hex');
  return 'md5' + createHash('md5').update(inner, 'latin1').update(salt).digest('hex');
}

/** PasswordMessage (F) answering AuthenticationMD5Password. */
export function md5PasswordMessage(user: string, password: string, salt: Buffer): Buffer {
  return new BufferWriter(FrontendCode.PasswordMessage).cstring(md5PasswordHash(user, password, salt)).flush();
}

/** SASLInitialResponse (F): mechanism name, Int32 length, initial client response. */
export function saslInitialResponse(mechanism: string, data: Buffer): Buffer {
  return new BufferWriter(FrontendCode.PasswordMessage).cstring(noNul(mechanism, 'SASL mechanism')).int32(data.length).bytes(data).flush();
}

/** SASLResponse (F): the raw SASL data. */
export function saslResponse(data: Buffer): Buffer {
  return new BufferWriter(FrontendCode.PasswordMessage).bytes(data).flush();
}

/** Redshift extensible digest: SHA256( SHA256(password ‖ salt) ‖ serverNonce ‖ clientNonce ), 32 bytes. */
export function redshiftDigest(password: string, salt: Buffer, serverNonce: Buffer, clientNonce: Buffer): Buffer {
  const inner = createHash('sha256').update(Buffer.from(password, 'utf8')).update(salt).digest();
  return createHash('sha256').update(inner).update(serverNonce).update(clientNonce).digest();
}

/** Redshift digest reply `d` (F): Int32 32, digest, Int32 nonceLen, clientNonce; no NUL (docs/design/wire-protocol.md §7). */
export function redshiftDigestMessage(password: string, salt: Buffer, serverNonce: Buffer, clientNonce: Buffer): Buffer {
  const digest = redshiftDigest(password, salt, serverNonce, clientNonce);
  return new BufferWriter(FrontendCode.RedshiftDigestResponse).int32(digest.length).bytes(digest).int32(clientNonce.length).bytes(clientNonce).flush();
}

/** CancelRequest (F), 3.0: 16 bytes with the backend pid and 4-byte key. */
export function cancelRequest(pid: number, key: Buffer): Buffer {
  if (key.length !== 4) throw new Error('cancel key must be 4 bytes');
  const b = Buffer.alloc(16);
  b.writeInt32BE(16, 0);
  b.writeInt32BE(80877102, 4);
  b.writeInt32BE(pid, 8);
  key.copy(b, 12);
  return b;
}

/** Bounds-checked cursor over one message body; every overrun is a ProtocolError. */
class Cursor {
  private offset = 0;
  private readonly buf: Buffer;
  private readonly what: string;
  constructor(buf: Buffer, what: string) {
    this.buf = buf;
    this.what = what;
  }
  int32(): number {
    if (this.offset + 4 > this.buf.length) throw new ProtocolError(`${this.what}: truncated`);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  bytes(n: number): Buffer {
    if (n < 0 || this.offset + n > this.buf.length) throw new ProtocolError(`${this.what}: truncated`);
    const v = Buffer.from(this.buf.subarray(this.offset, this.offset + n));
    this.offset += n;
    return v;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw new ProtocolError(`${this.what}: unterminated string`);
    const v = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return v;
  }
  rest(): Buffer {
    const v = Buffer.from(this.buf.subarray(this.offset));
    this.offset = this.buf.length;
    return v;
  }
  get remaining(): number {
    return this.buf.length - this.offset;
  }
  end(): void {
    if (this.remaining !== 0) throw new ProtocolError(`${this.what}: ${this.remaining} unexpected trailing bytes`);
  }
}

/** A decoded Authentication* request (B). */
export type AuthenticationRequest =
  | { kind: 'ok'; code: 0 }
  | { kind: 'cleartext'; code: 3 }
  | { kind: 'md5'; code: 5; salt: Buffer }
  | { kind: 'sasl'; code: 10; mechanisms: string[] }
  | { kind: 'saslContinue'; code: 11; data: Buffer }
  | { kind: 'saslFinal'; code: 12; data: Buffer }
  | { kind: 'redshiftDigest'; code: 13; algorithm: number; salt: Buffer; serverNonce: Buffer }
  | { kind: 'unsupported'; code: number };

/** Decodes the body (after the length) of an `R` message. Throws ProtocolError on malformed input. */
export function parseAuthenticationRequest(body: Buffer): AuthenticationRequest {
  const c = new Cursor(body, 'authentication request');
  const code = c.int32();
  switch (code) {
    case AuthCode.Ok:
      c.end();
      return { kind: 'ok', code };
    case AuthCode.CleartextPassword:
      c.end();
      return { kind: 'cleartext', code };
    case AuthCode.MD5Password: {
      const salt = c.bytes(4);
      c.end();
      return { kind: 'md5', code, salt };
    }
    case AuthCode.SASL: {
      const mechanisms: string[] = [];
      for (;;) {
        const m = c.cstring();
        if (m === '') break;
        if (mechanisms.length >= upstreamLimits.maxSaslMechanisms) throw new ProtocolError('authentication request: too many SASL mechanisms');
        mechanisms.push(m);
      }
      c.end();
      return { kind: 'sasl', code, mechanisms };
    }
    case AuthCode.SASLContinue:
      return { kind: 'saslContinue', code, data: c.rest() };
    case AuthCode.SASLFinal:
      return { kind: 'saslFinal', code, data: c.rest() };
    case AuthCode.RedshiftDigest: {
      const algorithm = c.int32();
      const saltLen = c.int32();
      if (saltLen < 0 || saltLen > upstreamLimits.maxSaltBytes) throw new ProtocolError(`authentication request: bad salt length ${saltLen}`);
      const salt = c.bytes(saltLen);
      const nonceLen = c.int32();
      if (nonceLen < 0 || nonceLen > upstreamLimits.maxNonceBytes) throw new ProtocolError(`authentication request: bad nonce length ${nonceLen}`);
      const serverNonce = c.bytes(nonceLen);
      c.end();
      return { kind: 'redshiftDigest', code, algorithm, salt, serverNonce };
    }
    default:
      return { kind: 'unsupported', code };
  }
}

/** Fields of an ErrorResponse/NoticeResponse (B), for logs only. */
export interface ErrorFields {
  severity?: string;
  sqlstate?: string;
  message?: string;
  /** Every field by its one-letter code. */
  fields: Readonly<Record<string, string>>;
}

/** Decodes an `E`/`N` body. Throws ProtocolError on malformed input or too many fields. */
export function parseErrorFields(body: Buffer): ErrorFields {
  const c = new Cursor(body, 'error response');
  const fields: Record<string, string> = {};
  for (let n = 0; ; n++) {
    const type = c.bytes(1)[0]!;
    if (type === 0) break;
    if (n >= upstreamLimits.maxErrorFields) throw new ProtocolError('error response: too many fields');
    fields[String.fromCharCode(type)] = c.cstring();
  }
  c.end();
  const out: ErrorFields = { fields };
  const severity = fields['V'] ?? fields['S'];
  if (severity !== undefined) out.severity = severity;
  if (fields['C'] !== undefined) out.sqlstate = fields['C'];
  if (fields['M'] !== undefined) out.message = fields['M'];
  return out;
}

/** Decodes a 3.0 BackendKeyData (B) body: Int32 pid, 4-byte key (copied). */
export function parseBackendKeyData(body: Buffer): { pid: number; key: Buffer } {
  const c = new Cursor(body, 'backend key data');
  const pid = c.int32();
  const key = c.bytes(4);
  c.end();
  return { pid, key };
}

/** Decodes a ParameterStatus (B) body: name and value. */
export function parseParameterStatus(body: Buffer): { name: string; value: string } {
  const c = new Cursor(body, 'parameter status');
  const name = c.cstring();
  const value = c.cstring();
  c.end();
  return { name, value };
}
