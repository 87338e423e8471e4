/** Encoders for the backend messages the proxy itself sends (docs/design/wire-protocol.md §5, §6, §8, §11). */
import { BackendCode, ErrorField, NegotiationAnswer, StartupCode } from './codes.js';
import { BufferWriter } from './writer.js';

/** AuthenticationOk (B): `R`, len 8, 0. @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-AUTHENTICATIONOK */
export const authenticationOk: Buffer = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);

/** AuthenticationCleartextPassword (B): `R`, len 8, 3. @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-AUTHENTICATIONCLEARTEXTPASSWORD */
export const authenticationCleartextPassword: Buffer = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]);

/** The single byte `S` that accepts an SSLRequest. */
export const sslAccepted: Buffer = Buffer.from([NegotiationAnswer.Accept]);

/** The single byte `N` that refuses an SSLRequest (`rsproxy tunnel` without --local-tls). */
export const sslRefused: Buffer = Buffer.from([NegotiationAnswer.Refuse]);

/** The single byte `N` that refuses a GSSENCRequest. */
export const gssEncRefused: Buffer = Buffer.from([NegotiationAnswer.Refuse]);

/** ParameterStatus (B). @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARAMETERSTATUS */
export function parameterStatus(name: string, value: string): Buffer {
  return new BufferWriter(BackendCode.ParameterStatus).cstring(name).cstring(value).flush();
}

/** BackendKeyData (B) with a 3.0 4-byte key. @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BACKENDKEYDATA */
export function backendKeyData(pid: number, key: Uint8Array): Buffer {
  return new BufferWriter(BackendCode.BackendKeyData, 13).int32(pid).bytes(key).flush();
}

/** Transaction status byte of ReadyForQuery. */
export type TransactionStatus = 'I' | 'T' | 'E';

/** ReadyForQuery (B). @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-READYFORQUERY */
export function readyForQuery(status: TransactionStatus = 'I'): Buffer {
  return Buffer.from([BackendCode.ReadyForQuery, 0, 0, 0, 5, status.charCodeAt(0)]);
}

/** Fields of an ErrorResponse the proxy sends. */
export interface ErrorFields {
  severity: 'FATAL' | 'ERROR';
  sqlstate: string;
  message: string;
  hint?: string | undefined;
}

/** ErrorResponse (B) with S, V, C, M and optional H. @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-ERRORRESPONSE */
export function errorResponse(fields: ErrorFields): Buffer {
  const w = new BufferWriter(BackendCode.ErrorResponse, 128)
    .byte(ErrorField.Severity)
    .cstring(fields.severity)
    .byte(ErrorField.SeverityNonLocalized)
    .cstring(fields.severity)
    .byte(ErrorField.Code)
    .cstring(fields.sqlstate)
    .byte(ErrorField.Message)
    .cstring(fields.message);
  if (fields.hint !== undefined) w.byte(ErrorField.Hint).cstring(fields.hint);
  return w.byte(0).flush();
}

/** NegotiateProtocolVersion (B): newest minor supported (as the full 3.0 code) and the unsupported `_pq_.` options. @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NEGOTIATEPROTOCOLVERSION */
export function negotiateProtocolVersion(unsupportedOptions: readonly string[], newestVersion: number = StartupCode.Protocol30): Buffer {
  const w = new BufferWriter(BackendCode.NegotiateProtocolVersion).int32(newestVersion).int32(unsupportedOptions.length);
  for (const name of unsupportedOptions) w.cstring(name);
  return w.flush();
}
