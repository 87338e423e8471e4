/** The SQL text of the frontend messages that carry a statement, Query (F) and Parse (F), and the statement record built from it. */
import { statementRecordText, type StatementMode } from './fingerprint.js';
import type { ConnectionFields, SessionFields } from './record.js';
import { statementSealer, type SealedEntry } from './record-encoding.js';

/** Frontend message type bytes that carry SQL. @see https://www.postgresql.org/docs/current/protocol-message-formats.html */
export const StatementMessageCode = {
  Query: 0x51, // Q
  Parse: 0x50, // P
} as const;
export type StatementMessageCode = (typeof StatementMessageCode)[keyof typeof StatementMessageCode];

/** A captured statement: which protocol carried it and its text. */
export interface CapturedStatement {
  protocol: 'simple' | 'extended';
  text: string;
}

/** Offset just past the NUL ending the cstring at `start`; -1 if there is none. */
function cstringEnd(body: Buffer, start: number): number {
  const nul = body.indexOf(0, start);
  return nul === -1 ? -1 : nul + 1;
}

/**
 * The statement in a frontend message, given its type byte and its body (the bytes after the Int32
 * length): Query (F) `String query`; Parse (F) `String name, String query, Int16 n, Int32[n] oids`.
 * Undefined for any other message and for a body without the terminating NULs (the server rejects it).
 * Pure; it never throws.
 */
export function capturedStatement(type: number, body: Buffer): CapturedStatement | undefined {
  // Invalid UTF-8 is not fatal: the client still gets a record (with U+FFFD), never an exception.
  if (type === StatementMessageCode.Query) {
    const end = cstringEnd(body, 0);
    return end === -1 ? undefined : { protocol: 'simple', text: body.toString('utf8', 0, end - 1) };
  }
  if (type === StatementMessageCode.Parse) {
    const queryStart = cstringEnd(body, 0);
    if (queryStart === -1) return undefined;
    const end = cstringEnd(body, queryStart);
    return end === -1 ? undefined : { protocol: 'extended', text: body.toString('utf8', queryStart, end - 1) };
  }
  return undefined;
}

/** The statement records of one session, sealed for the writer: fingerprint or masked (and possibly cut) text by `mode`. */
export function statementRecords(session: ConnectionFields & SessionFields, mode: StatementMode, maxStatementBytes: number): (statement: CapturedStatement) => SealedEntry {
  const seal = statementSealer(session);
  return (statement) => {
    const recorded = statementRecordText(mode, statement.text, maxStatementBytes);
    return seal(statement.protocol, recorded.text, recorded.truncated === true);
  };
}
