/**
 * The reset of a departed client's upstream session (one round trip) and the probe before a hand-out, as request
 * bytes plus pure readers of the replies.
 *
 * The reset is sent in one write: `Close('S', name)` for each named statement the client left open, `Sync`, then one
 * simple `Query` (RESET ALL and the identity/temporary-schema check). Close is an extended-protocol message: its
 * CloseComplete is only flushed at a Sync, and after an error the server skips messages up to the next Sync. The
 * Sync ends that run explicitly (one ReadyForQuery), so the Query always runs and its ReadyForQuery is the last
 * reply. Closing a statement that does not exist is not an error, so over-listed names are harmless. Without open
 * statements only the Query is sent. The Query also destroys the unnamed statement.
 */
import type { Frame } from '../protocol/framer.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { closeStatementMessage, emptyQueryMessage, parseDataRowText, QueryBackendCode as B, queryMessage, syncMessage } from '../protocol/query-messages.js';

/**
 * The reset statement. RESET ALL restores every setting to its login value (startup parameters included) but not
 * SET ROLE / SET SESSION AUTHORIZATION, hence the user check. `current_schemas(true)` lists the session's temporary
 * schema (pg_temp_N) once it exists: PostgreSQL adds it to the implicit search path, and `pg_my_temp_schema()` does
 * not exist on Redshift, where current_schemas is a leader-node function. What an operator must verify on Redshift:
 * that a session which created a TEMP table shows a `pg_temp_*` entry here (otherwise the temp_schema check never
 * fires there), and that RESET ALL is accepted.
 */
export const resetSql = 'RESET ALL; SELECT session_user, current_user, current_schemas(true)';

/** Result of a reset (a discard reason unless ok). */
export type ResetOutcome = { result: 'ok' } | { result: 'session_user' | 'temp_schema' } | { result: 'reset_error'; detail: string };

/** Result of a probe. */
export type ProbeOutcome = { result: 'ok' } | { result: 'probe_error'; detail: string };

/** The reset request: Close for each open statement name (exact bytes), Sync when there were any, then the Query. */
export function resetRequest(openStatements: readonly Buffer[]): Buffer {
  if (openStatements.length === 0) return queryMessage(resetSql);
  return Buffer.concat([...openStatements.map(closeStatementMessage), syncMessage, queryMessage(resetSql)]);
}

/** The probe request: an empty Query, answered by EmptyQueryResponse and ReadyForQuery. */
export const probeRequest: Buffer = emptyQueryMessage;

/** True when a `current_schemas(true)` text value lists a temporary schema (pg_temp_N), quoted or not. */
export function listsTempSchema(schemas: string): boolean {
  return /(^|[{,"])pg_temp/.test(schemas);
}

const isAsync = (type: number): boolean => type === B.NoticeResponse || type === B.ParameterStatus;

/**
 * Reads the reset's replies frame by frame: CloseComplete × n and ReadyForQuery (when statements were closed), then
 * CommandComplete (RESET), RowDescription, one DataRow, CommandComplete, ReadyForQuery 'I'. NoticeResponse and
 * ParameterStatus (RESET ALL reports the settings it changes back) may come anywhere. Returns the outcome on the
 * frame that decides it (an error or anything unexpected at once, else the last ReadyForQuery), else undefined.
 */
export class ResetReplyReader {
  private readonly loginUser: string;
  private closesLeft: number;
  private step: 'closes' | 'sync' | 'reset' | 'rows' | 'row' | 'select' | 'ready' | 'done';
  private mismatch: ResetOutcome | undefined;

  /** `closeCount`: how many Close messages the request held; `loginUser`: the user the session logged in as. */
  constructor(closeCount: number, loginUser: string) {
    this.loginUser = loginUser;
    this.closesLeft = closeCount;
    this.step = closeCount > 0 ? 'closes' : 'reset';
  }

  /** Feeds one backend frame; returns the outcome once decided. */
  push(frame: Frame): ResetOutcome | undefined {
    if (this.step === 'done') return fail('reply after the reset ended');
    if (frame.type === B.ErrorResponse) return this.end(fail('the upstream answered the reset with an error'));
    if (isAsync(frame.type)) return undefined;
    switch (this.step) {
      case 'closes':
        if (frame.type !== B.CloseComplete) return this.unexpected(frame);
        if (--this.closesLeft === 0) this.step = 'sync';
        return undefined;
      case 'sync':
        if (frame.type !== B.ReadyForQuery || frame.body[0] !== 0x49) return this.unexpected(frame);
        this.step = 'reset';
        return undefined;
      case 'reset':
        if (frame.type !== B.CommandComplete) return this.unexpected(frame);
        this.step = 'rows';
        return undefined;
      case 'rows':
        if (frame.type !== B.RowDescription || frame.body.length < 2 || frame.body.readInt16BE(0) !== 3) return this.unexpected(frame);
        this.step = 'row';
        return undefined;
      case 'row':
        if (frame.type !== B.DataRow) return this.unexpected(frame);
        this.mismatch = this.check(frame.body);
        this.step = 'select';
        return undefined;
      case 'select':
        if (frame.type !== B.CommandComplete) return this.unexpected(frame);
        this.step = 'ready';
        return undefined;
      case 'ready':
        if (frame.type !== B.ReadyForQuery || frame.body.length !== 1 || frame.body[0] !== 0x49) return this.unexpected(frame);
        return this.end(this.mismatch ?? { result: 'ok' });
    }
  }

  private check(body: Buffer): ResetOutcome | undefined {
    let values: Array<string | null>;
    try {
      values = parseDataRowText(body);
    } catch (err) {
      if (err instanceof ProtocolError) return fail(`malformed check row: ${err.message}`);
      throw err;
    }
    const [sessionUser, currentUser, schemas] = values;
    if (values.length !== 3) return fail('the check row does not have 3 columns');
    if (sessionUser !== this.loginUser || currentUser !== this.loginUser) return { result: 'session_user' };
    if (schemas === null || schemas === undefined || listsTempSchema(schemas)) return { result: 'temp_schema' };
    return undefined;
  }

  private unexpected(frame: Frame): ResetOutcome {
    return this.end(fail(`unexpected '${String.fromCharCode(frame.type)}' in the reset reply (at ${this.step})`));
  }

  private end(outcome: ResetOutcome): ResetOutcome {
    this.step = 'done';
    return outcome;
  }
}

/** Reads the probe's replies: EmptyQueryResponse then ReadyForQuery 'I' (notices and ParameterStatus ignored). */
export class ProbeReplyReader {
  private step: 'empty' | 'ready' | 'done' = 'empty';

  /** Feeds one backend frame; returns the outcome once decided. */
  push(frame: Frame): ProbeOutcome | undefined {
    if (this.step === 'done') return { result: 'probe_error', detail: 'reply after the probe ended' };
    if (isAsync(frame.type)) return undefined;
    if (this.step === 'empty' && frame.type === B.EmptyQueryResponse) {
      this.step = 'ready';
      return undefined;
    }
    const isOk = this.step === 'ready' && frame.type === B.ReadyForQuery && frame.body.length === 1 && frame.body[0] === 0x49;
    this.step = 'done';
    return isOk ? { result: 'ok' } : { result: 'probe_error', detail: `unexpected '${String.fromCharCode(frame.type)}' in the probe reply` };
  }
}

function fail(detail: string): ResetOutcome {
  return { result: 'reset_error', detail };
}
