/** What the proxy may answer before login, and a strict reader that rejects anything else (issue 15's fuzz oracle). */
import { SqlState } from '../../proxy/errors/proxy-error.js';
import { errorFields } from '../../testkit/raw-wire.js';

/** Every SQLSTATE the contract lets the proxy send before login: the catalogue minus XX000 (a bug). */
export const expectedSqlstates: ReadonlySet<string> = new Set(Object.values(SqlState).filter((s) => s !== SqlState.InternalError));

/** A defined outcome, as read off the wire. */
export interface Outcome {
  /** Single-byte answers to SSLRequest / GSSENCRequest, in order. */
  answers: string[];
  /** The FATAL's SQLSTATE, when the proxy refused. */
  sqlstate?: string;
  /** AuthenticationOk … ReadyForQuery arrived. */
  isLoggedIn: boolean;
  /** TLS records followed an 'S' on a plaintext stream (the client never started TLS). */
  hasTlsRecords: boolean;
}

function readError(buf: Buffer, at: number, outcome: Outcome): number {
  if (at + 5 > buf.length) throw new Error(`truncated message header at ${at}`);
  const end = at + 1 + buf.readInt32BE(at + 1);
  if (end > buf.length || end < at + 5) throw new Error(`truncated or bad message at ${at}`);
  const f = errorFields(buf.subarray(at + 5, end));
  const code = f.get('C') ?? '';
  if (!expectedSqlstates.has(code)) throw new Error(`unexpected SQLSTATE ${code}: ${f.get('M') ?? ''}`);
  if (f.get('S') !== 'FATAL' || f.get('V') !== 'FATAL') throw new Error(`ErrorResponse ${code} is not FATAL`);
  outcome.sqlstate = code;
  if (end !== buf.length) throw new Error(`bytes after the FATAL ${code}`);
  return end;
}

/** Reads what the proxy sent in plaintext: 'S'/'N' answers, then at most one FATAL, or TLS records after an 'S'. */
export function readPlaintext(buf: Buffer): Outcome {
  const outcome: Outcome = { answers: [], isLoggedIn: false, hasTlsRecords: false };
  for (let i = 0; i < buf.length; ) {
    const b = buf[i]!;
    if (outcome.answers.at(-1) === 'S') {
      // After 'S' only TLS speaks: handshake (22) or alert (21) records.
      if (b !== 21 && b !== 22) throw new Error(`plaintext byte ${b} after 'S'`);
      outcome.hasTlsRecords = true;
      return outcome;
    }
    if (b === 0x53 || b === 0x4e) {
      outcome.answers.push(String.fromCharCode(b));
      i++;
    } else if (b === 0x45) {
      i = readError(buf, i, outcome);
    } else {
      throw new Error(`unexpected plaintext byte ${b} at ${i}`);
    }
  }
  return outcome;
}

/** Reads what the proxy sent inside TLS: R 3 / NegotiateProtocolVersion, then a FATAL or the login (R 0 … Z); the relay's bytes after Z are not read. */
export function readInsideTls(buf: Buffer, outcome: Outcome): Outcome {
  for (let i = 0; i < buf.length; ) {
    const type = String.fromCharCode(buf[i]!);
    if (type === 'E') {
      readError(buf, i, outcome);
      return outcome;
    }
    if (i + 5 > buf.length) throw new Error(`truncated message header at ${i}`);
    const end = i + 1 + buf.readInt32BE(i + 1);
    if (end > buf.length || end < i + 5) throw new Error(`truncated or bad '${type}' message at ${i}`);
    const body = buf.subarray(i + 5, end);
    if (type === 'R') {
      const code = body.length >= 4 ? body.readInt32BE(0) : -1;
      if (code !== 3 && code !== 0) throw new Error(`unexpected authentication request ${code}`);
    } else if (type === 'Z') {
      outcome.isLoggedIn = true;
      return outcome;
    } else if (type !== 'v' && type !== 'S' && type !== 'K') {
      throw new Error(`unexpected '${type}' message before login`);
    }
    i = end;
  }
  return outcome;
}
