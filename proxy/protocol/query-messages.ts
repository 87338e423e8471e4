/** Type bytes of the query phase (simple and extended protocol, COPY) and the few query-phase messages the proxy itself sends or reads. */
import { ProtocolError } from './protocol-error.js';
import { BufferReader, decodeUtf8Strict } from './reader.js';
import { BufferWriter } from './writer.js';

/** Frontend (F) message type bytes after login. @see https://www.postgresql.org/docs/current/protocol-message-codes.html */
export const QueryFrontendCode = {
  Query: 0x51, // Q
  Parse: 0x50, // P
  Bind: 0x42, // B
  Describe: 0x44, // D
  Execute: 0x45, // E
  Close: 0x43, // C
  Sync: 0x53, // S
  Flush: 0x48, // H
  FunctionCall: 0x46, // F
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Terminate: 0x58, // X
} as const;
export type QueryFrontendCode = (typeof QueryFrontendCode)[keyof typeof QueryFrontendCode];

/** Backend (B) message type bytes after login. @see https://www.postgresql.org/docs/current/protocol-message-codes.html */
export const QueryBackendCode = {
  ReadyForQuery: 0x5a, // Z
  CommandComplete: 0x43, // C
  EmptyQueryResponse: 0x49, // I
  RowDescription: 0x54, // T
  DataRow: 0x44, // D
  ErrorResponse: 0x45, // E
  NoticeResponse: 0x4e, // N
  ParameterStatus: 0x53, // S
  NotificationResponse: 0x41, // A
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  NoData: 0x6e, // n
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  CopyDone: 0x63, // c
} as const;
export type QueryBackendCode = (typeof QueryBackendCode)[keyof typeof QueryBackendCode];

/** Second byte of a Close (F) body: which kind of object is closed. */
export const CloseTarget = {
  Statement: 0x53, // S
  Portal: 0x50, // P
} as const;
export type CloseTarget = (typeof CloseTarget)[keyof typeof CloseTarget];

/** Sync (F). @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SYNC */
export const syncMessage: Buffer = Buffer.from([QueryFrontendCode.Sync, 0, 0, 0, 4]);

/** Query (F) with an empty string: the cheapest round trip (EmptyQueryResponse, ReadyForQuery). */
export const emptyQueryMessage: Buffer = Buffer.from([QueryFrontendCode.Query, 0, 0, 0, 5, 0]);

/** Encodes a Query (F). @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-QUERY */
export function queryMessage(sql: string): Buffer {
  return new BufferWriter(QueryFrontendCode.Query, 16 + sql.length).cstring(sql).flush();
}

/** Encodes Close (F) of a prepared statement named by its exact bytes (no NUL inside). @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CLOSE */
export function closeStatementMessage(name: Uint8Array): Buffer {
  if (name.includes(0)) throw new ProtocolError('statement name contains NUL');
  return new BufferWriter(QueryFrontendCode.Close, 8 + name.length).byte(CloseTarget.Statement).bytes(name).byte(0).flush();
}

/** Decodes a DataRow (B) body into its column values as text (null for SQL NULL). Throws ProtocolError. */
export function parseDataRowText(body: Buffer): Array<string | null> {
  const r = new BufferReader(body);
  const count = r.int16();
  if (count < 0) throw new ProtocolError('data row: negative column count');
  const values: Array<string | null> = [];
  for (let i = 0; i < count; i++) {
    const len = r.int32();
    values.push(len === -1 ? null : decodeUtf8Strict(r.bytes(len)));
  }
  if (r.remaining !== 0) throw new ProtocolError('data row: trailing bytes');
  return values;
}

/** Decodes a CommandComplete (B) body: the command tag. Throws ProtocolError. */
export function parseCommandComplete(body: Buffer): string {
  const r = new BufferReader(body);
  const tag = r.cstring();
  if (r.remaining !== 0) throw new ProtocolError('command complete: trailing bytes');
  return tag;
}
