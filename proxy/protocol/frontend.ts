/** Decoders for the frontend messages the proxy handles before the relay (docs/design/wire-protocol.md §3, §4, §6). */
import { StartupCode } from './codes.js';
import { ProtocolError } from './protocol-error.js';
import { BufferReader, decodeUtf8Strict } from './reader.js';
import type { Frame } from './framer.js';
import { FrontendCode } from './codes.js';

/** Largest CancelRequest key (protocol 3.2 allows up to 256 bytes). */
export const maxCancelKeyBytes = 256;

/** SSLRequest (F): ask for TLS. @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SSLREQUEST */
export interface SslRequest {
  kind: 'SSLRequest';
}
/** GSSENCRequest (F): ask for GSSAPI encryption. */
export interface GssEncRequest {
  kind: 'GSSENCRequest';
}
/** CancelRequest (F), 3.0 (4-byte key) or 3.2 (variable key). */
export interface CancelRequest {
  kind: 'CancelRequest';
  pid: number;
  key: Buffer;
  /** Whole packet length (16 for a 3.0 cancel). */
  packetBytes: number;
}
/** StartupMessage (F), protocol 3.x, already validated per docs/design/wire-protocol.md §4 rules 2–4. */
export interface StartupMessage {
  kind: 'StartupMessage';
  majorVersion: 3;
  minorVersion: number;
  /** Key/value pairs in the order sent; keys unique case-insensitively. */
  parameters: Array<readonly [string, string]>;
}
/** A startup packet whose major protocol version is not 3 (body not parsed). */
export interface UnsupportedProtocol {
  kind: 'UnsupportedProtocol';
  majorVersion: number;
  minorVersion: number;
}
/** Any untyped pre-startup packet. */
export type StartupPacket = SslRequest | GssEncRequest | CancelRequest | StartupMessage | UnsupportedProtocol;

/** Decodes one whole pre-startup packet (length field included), as returned by StartupFramer. */
export function decodeStartupPacket(packet: Buffer): StartupPacket {
  const r = new BufferReader(packet);
  const len = r.int32();
  if (len !== packet.length) throw new ProtocolError('invalid startup packet length');
  const code = r.int32() >>> 0;
  switch (code) {
    case StartupCode.SSLRequest:
      if (len !== 8) throw new ProtocolError('invalid SSL request length');
      return { kind: 'SSLRequest' };
    case StartupCode.GSSENCRequest:
      if (len !== 8) throw new ProtocolError('invalid GSSENC request length');
      return { kind: 'GSSENCRequest' };
    case StartupCode.CancelRequest: {
      if (len < 12 || len - 12 > maxCancelKeyBytes) throw new ProtocolError('invalid cancel request length');
      const pid = r.int32();
      return { kind: 'CancelRequest', pid, key: r.bytes(r.remaining), packetBytes: len };
    }
    default: {
      const majorVersion = code >>> 16;
      const minorVersion = code & 0xffff;
      if (majorVersion !== 3) return { kind: 'UnsupportedProtocol', majorVersion, minorVersion };
      return { kind: 'StartupMessage', majorVersion: 3, minorVersion, parameters: decodeStartupParameters(r) };
    }
  }
}

function decodeStartupParameters(r: BufferReader): Array<readonly [string, string]> {
  const params: Array<readonly [string, string]> = [];
  const seen = new Set<string>();
  for (;;) {
    if (r.remaining === 0) throw new ProtocolError('invalid startup packet layout: expected terminator as last byte');
    const keyBytes = r.cstringBytes();
    if (keyBytes.length === 0) {
      if (r.remaining !== 0) throw new ProtocolError('invalid startup packet layout: expected terminator as last byte');
      return params;
    }
    const key = decodeUtf8Strict(keyBytes);
    if (r.remaining === 0) throw new ProtocolError(`invalid startup packet layout: missing value for "${safeName(key)}"`);
    const value = r.cstring();
    const folded = key.toLowerCase();
    if (seen.has(folded)) throw new ProtocolError(`duplicate startup parameter "${safeName(key)}"`);
    seen.add(folded);
    params.push([key, value] as const);
  }
}

// Parameter names end up in error messages and logs; keep them short and printable.
function safeName(key: string): string {
  return key.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}

/** Result of decoding a PasswordMessage body: the password, or why it is not a usable string. */
export type PasswordDecode =
  | { ok: true; password: string }
  | { ok: false; reason: 'interior_nul' | 'invalid_utf8' };

/** Total message bytes (type byte included) a framer must allow for a password of `maxPasswordBytes`. */
export function passwordMessageCapBytes(maxPasswordBytes: number): number {
  // Byte1 + Int32 + password + NUL
  return maxPasswordBytes + 6;
}

/** Decodes a PasswordMessage (F) body. Missing final NUL → ProtocolError; interior NUL / bad UTF-8 → ok: false. */
export function decodePasswordMessage(body: Buffer): PasswordDecode {
  if (body.length === 0 || body[body.length - 1] !== 0) throw new ProtocolError('invalid password packet: missing terminator');
  const raw = body.subarray(0, body.length - 1);
  if (raw.indexOf(0) >= 0) return { ok: false, reason: 'interior_nul' };
  try {
    return { ok: true, password: decodeUtf8Strict(raw) };
  } catch {
    return { ok: false, reason: 'invalid_utf8' };
  }
}

/** True when the frame is a PasswordMessage (F) ('p'). */
export function isPasswordMessage(frame: Frame): boolean {
  return frame.type === FrontendCode.PasswordMessage;
}

/** True when the frame is a Terminate (F) ('X'). */
export function isTerminate(frame: Frame): boolean {
  return frame.type === FrontendCode.Terminate;
}
