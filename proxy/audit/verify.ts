/**
 * Checks audit files in the order given: every line is a JSON record, its seq is one more than the
 * record before it and its prev is the SHA-256 of the line before it, across file boundaries.
 *
 * Where the chain may start: a first record with prev = 64 zeros must have seq 1 (the very start).
 * A first record with any other prev is accepted at any seq: the earlier files were not given (rotated
 * away, archived), so what came before cannot be checked, but everything from there on is. The summary
 * names the seq the check started at, so an operator sees that it began mid-way.
 */
import { createReadStream } from 'node:fs';
import { isHash, lineHash } from './chain.js';
import { genesisPrev } from './record.js';

/** An intact chain. */
export interface VerifyIntact {
  ok: true;
  files: number;
  records: number;
  /** seq of the first record checked (1 unless the files start mid-chain); 0 when there were none. */
  firstSeq: number;
  lastSeq: number;
}

/** The first thing found wrong. */
export interface VerifyBroken {
  ok: false;
  file: string;
  /** 1-based line number within `file`. */
  line: number;
  what: string;
}

/** The result of verifyAuditFiles. */
export type VerifyResult = VerifyIntact | VerifyBroken;

/** Checks one line after another; holds where the chain stands. */
export class ChainVerifier {
  private last: { seq: number; hash: string } | undefined;
  private first = 0;
  private count = 0;

  /** Checks the next line (its bytes, without the newline); `before` names the line before it (for the message). Returns what is wrong, if anything. */
  check(line: Uint8Array, before = 'the line before'): string | undefined {
    let record: unknown;
    try {
      record = JSON.parse(Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8'));
    } catch {
      return line.length === 0 ? 'empty line' : 'not a JSON line';
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'not a JSON object';
    const { seq, prev } = record as { seq?: unknown; prev?: unknown };
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return 'seq is not a positive integer';
    if (!isHash(prev)) return 'prev is not a SHA-256 hex string';
    if (this.last === undefined) {
      if (prev === genesisPrev && seq !== 1) return `seq ${seq} with prev 64 zeros: the first record of a chain has seq 1`;
      this.first = seq;
    } else {
      if (seq === 1 && prev === genesisPrev) return `a new chain starts here (seq 1, prev 64 zeros) after seq ${this.last.seq}: the proxy started with an empty or missing file; verify the files before and from here separately`;
      if (seq !== this.last.seq + 1) return `seq ${seq} follows seq ${this.last.seq} (expected ${this.last.seq + 1})`;
      if (prev !== this.last.hash) return `prev is not the SHA-256 of ${before}: that line was changed, or lines were removed or reordered`;
    }
    this.last = { seq, hash: lineHash(line) };
    this.count++;
    return undefined;
  }

  /** The summary once every line passed. */
  summary(files: number): VerifyIntact {
    return { ok: true, files, records: this.count, firstSeq: this.first, lastSeq: this.last?.seq ?? 0 };
  }
}

/** The lines of a file as bytes, each with whether it ended in a newline (only the last can lack one). */
async function* fileLines(path: string): AsyncGenerator<{ bytes: Buffer; terminated: boolean }> {
  let pending: Buffer[] = [];
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
      pending.push(chunk.subarray(from, nl));
      yield { bytes: Buffer.concat(pending), terminated: true };
      pending = [];
      from = nl + 1;
    }
    if (from < chunk.length) pending.push(chunk.subarray(from));
  }
  if (pending.length > 0) yield { bytes: Buffer.concat(pending), terminated: false };
}

/** Verifies `paths` in order as one chain. Rejects (an fs error) when a file cannot be read. */
export async function verifyAuditFiles(paths: readonly string[]): Promise<VerifyResult> {
  const verifier = new ChainVerifier();
  let before = 'the line before';
  for (const file of paths) {
    let line = 0;
    for await (const { bytes, terminated } of fileLines(file)) {
      line++;
      if (!terminated) return { ok: false, file, line, what: 'the last line has no newline: the file was cut or a write did not complete' };
      const what = verifier.check(bytes, line === 1 ? before : `line ${line - 1}`);
      if (what !== undefined) return { ok: false, file, line, what };
    }
    if (line > 0) before = `the last line of ${file}`;
  }
  return verifier.summary(paths.length);
}
