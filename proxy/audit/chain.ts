/** The hash chain of the audit log: each record's `prev` is the SHA-256 of the line before it. */
import { hash } from 'node:crypto';

/** SHA-256 hex of one line as written (UTF-8, without its newline). */
export function lineHash(line: string | Uint8Array): string {
  // The one-shot hash: a record per statement, and it costs half of createHash().update().digest().
  return hash('sha256', line, 'hex');
}

/** Where the chain stands: the last written record's seq (0 before the first) and its line's hash. */
export interface ChainState {
  seq: number;
  prev: string;
}

/** A 64-character lower-case hex string. */
export const isHash = (s: unknown): s is string => typeof s === 'string' && /^[0-9a-f]{64}$/.test(s);

/** The chain position a written line leaves behind; undefined if the line is not a record (not JSON, no positive integer seq). */
export function chainAfter(line: Uint8Array): ChainState | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  const seq = (parsed as { seq?: unknown } | null)?.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  return { seq, prev: lineHash(line) };
}
