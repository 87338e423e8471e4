/** The append-only, hash-chained audit log: one JSON line per record, written in order, the chain continued across reopen and restart. */
import type { Clock } from '../../auth/types.js';
import { nodeAuditFs, readTail, type AuditFile, type AuditFs, type FileTail } from './audit-file.js';
import { silentAuditObserver, type AuditObserver } from './audit-metrics.js';
import { chainAfter, isHash, lineHash, type ChainState } from './chain.js';
import { formatAuditTime, genesisPrev, type AuditEntry, type AuditEvent } from './record.js';
import { RecordBatch } from './record-batch.js';
import { recordBytes, sealEntry, type SealedEntry } from './record-encoding.js';

/** What a write that fails means for the action it records. */
export type AuditFailurePolicy = 'refuse' | 'continue';

/** The part of the Logger the audit log uses; it never logs record contents. */
export interface AuditLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Options of openAuditLog. */
export interface AuditLogOptions {
  path: string;
  onFailure: AuditFailurePolicy;
  clock: Clock;
  logger: AuditLogger;
  observer?: AuditObserver;
  fs?: AuditFs;
  /** fdatasync after every record (survives a machine crash, costs a disk flush per record); default false. */
  syncEachRecord?: boolean;
}

/** The outcome of one write. */
export interface AuditWriteResult {
  /** The record is in the file. */
  written: boolean;
  /** The recorded action may go on: written, or the policy is `continue`. */
  proceed: boolean;
  /** The record's seq when written. */
  seq?: number;
}

/** Thrown by openAuditLog when the existing file's last line is not a record. */
export class AuditLogCorruptError extends Error {
  override readonly name = 'AuditLogCorruptError';
  readonly code = 'AUDIT_LOG_CORRUPT';
}

const errorCode = (err: unknown): string => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.name : 'unknown';
};

/** Cuts a torn last line (a write that never completed) and returns the file's size and last complete line. */
async function cutTornTail(file: AuditFile, path: string, logger: AuditLogger): Promise<FileTail> {
  const size = await file.size();
  const tail = await readTail(file, size);
  if (tail.completeSize < size) {
    logger.warn({ path, droppedBytes: size - tail.completeSize }, 'audit log ended in an incomplete line; cut it');
    await file.truncate(tail.completeSize);
  }
  return tail;
}

/** The chain state saved by an earlier reopen or close; undefined (with a warning if unreadable) when there is none. */
async function savedChainState(opts: AuditLogOptions): Promise<ChainState | undefined> {
  let text: string | undefined;
  try {
    text = await (opts.fs ?? nodeAuditFs).readState(opts.path);
  } catch (err) {
    opts.logger.warn({ path: opts.path, err: errorCode(err) }, 'audit chain state unreadable; starting a new chain');
    return undefined;
  }
  if (text === undefined) return undefined;
  try {
    const state = JSON.parse(text) as Partial<ChainState> | null;
    if (typeof state?.seq === 'number' && Number.isSafeInteger(state.seq) && state.seq >= 0 && isHash(state.prev)) return { seq: state.seq, prev: state.prev };
  } catch {
    // fall through: not JSON
  }
  opts.logger.warn({ path: opts.path }, 'audit chain state is not valid; starting a new chain');
  return undefined;
}

/** The open audit log. Writes are serialised: each resolves once its line is in the file (or has failed). */
export class AuditLog {
  private file: AuditFile | undefined;
  private goodSize: number;
  private chain: ChainState;
  private healthy = true;
  /** A failed append may have left part of a line behind; cut it before the next one. */
  private isTorn = false;
  private isClosed = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** Jobs queued or running: while any is, a record waits its turn behind them. */
  private pending = 0;
  /** The records appended in this turn of the event loop, written when it ends. */
  private batch: RecordBatch | undefined;
  /** The buffer batches encode into, kept from one batch to the next. */
  private batchBuffer: Buffer | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly fs: AuditFs;
  private readonly observer: AuditObserver;

  private constructor(
    private readonly opts: AuditLogOptions,
    file: AuditFile,
    size: number,
    chain: ChainState,
  ) {
    this.file = file;
    this.goodSize = size;
    this.chain = chain;
    this.fs = opts.fs ?? nodeAuditFs;
    this.observer = opts.observer ?? silentAuditObserver;
  }

  /** Opens (or creates) the log; a non-empty file's last record sets where the chain continues. Rejects if the file cannot be opened or its last line is not a record. */
  static async open(opts: AuditLogOptions): Promise<AuditLog> {
    const file = await (opts.fs ?? nodeAuditFs).openAppend(opts.path);
    try {
      const tail = await cutTornTail(file, opts.path, opts.logger);
      let chain: ChainState;
      if (tail.lastLine !== undefined) {
        const after = chainAfter(tail.lastLine);
        if (after === undefined) throw new AuditLogCorruptError(`${opts.path}: the last line is not an audit record; move the file away to start a new one`);
        chain = after;
      } else {
        // An empty file after a rotation: the state saved at the reopen (or close) continues the chain.
        chain = (await savedChainState(opts)) ?? { seq: 0, prev: genesisPrev };
      }
      return new AuditLog(opts, file, tail.completeSize, chain);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  /** False while the last attempt to write failed (with `refuse`: /readyz 503); true again after a write or probe succeeds. */
  get isHealthy(): boolean {
    return this.healthy;
  }

  /** The failure policy the log was opened with. */
  get onFailure(): AuditFailurePolicy {
    return this.opts.onFailure;
  }

  /** The last written record's seq and line hash (seq 0 and 64 zeros before the first). */
  get position(): Readonly<ChainState> {
    return { ...this.chain };
  }

  /** Appends one record; seq and prev advance only when it is in the file, so a failed record leaves no gap. */
  write(entry: AuditEntry): Promise<AuditWriteResult> {
    return new Promise((resolve) => this.appendThen(sealEntry(entry), resolve));
  }

  /**
   * Appends one sealed record and calls `done` with the outcome (no promise per record on the statement path).
   * While the file is healthy and nothing else is pending, the records of one turn of the event loop go to the
   * file in one write when the turn ends (group commit: a record per statement, one syscall for all); otherwise
   * the record waits its turn behind what is pending. Records land in call order either way.
   */
  appendThen(sealed: SealedEntry, done: (result: AuditWriteResult) => void): void {
    const batch = this.openBatch();
    if (batch === undefined) {
      this.serial(() => this.writeNow(sealed)).then(done, () => done(this.failedResult()));
      return;
    }
    const seq = this.chain.seq + 1;
    const line = batch.add({ seq, time: formatAuditTime(this.opts.clock.nowMs()), prev: this.chain.prev }, sealed, (isWritten) => done(isWritten ? { written: true, proceed: true, seq } : this.failedResult()));
    // The chain moves on now, so the next record of the batch links to this one; a failed write rolls it back.
    this.chain = { seq, prev: lineHash(line) };
  }

  /** Reopens the path (SIGHUP after logrotate moved the file); the chain continues into the new file. Resolves to isHealthy. */
  reopen(): Promise<boolean> {
    return this.serial(async () => {
      if (this.isClosed) return false;
      const old = this.file;
      this.file = undefined;
      // Leave the rotated file a clean chain: cut a line a failed write left half-written.
      if (old !== undefined) await this.repairTail(old).catch(() => undefined);
      if (old !== undefined) await old.close().catch((err: unknown) => this.opts.logger.warn({ path: this.opts.path, err: errorCode(err) }, 'closing the old audit file failed'));
      await this.saveState();
      return this.openPath();
    });
  }

  /** While unhealthy: tries to make the log writable again (open the path again, cut a torn tail, check the disk has room). Resolves to isHealthy. */
  probe(): Promise<boolean> {
    return this.serial(async () => {
      if (this.healthy || this.isClosed) return this.healthy;
      if (this.file === undefined) return this.openPath();
      try {
        await this.repairTail(this.file);
        await this.fs.probeWritable(this.opts.path);
      } catch {
        return false;
      }
      this.setHealthy(true);
      return true;
    });
  }

  /** Calls probe() every `intervalMs` while unhealthy, so a disk that frees up is noticed with no write and no restart. */
  startProbing(intervalMs = 1000): void {
    if (this.probeTimer !== undefined || this.isClosed) return;
    this.probeTimer = setInterval(() => {
      if (!this.healthy) void this.probe();
    }, intervalMs);
    this.probeTimer.unref();
  }

  /** Stops the timer of startProbing. */
  stopProbing(): void {
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  /** Waits for pending writes, then closes the file; later writes fail. */
  close(): Promise<void> {
    this.stopProbing();
    return this.serial(async () => {
      this.isClosed = true;
      const file = this.file;
      this.file = undefined;
      if (file !== undefined) await file.close();
      await this.saveState();
    });
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = this.queue.then(job).finally(() => {
      this.pending--;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The batch this turn's records join: the open one, or a new one when the file is healthy and nothing is pending; undefined otherwise. */
  private openBatch(): RecordBatch | undefined {
    // Only the batch itself pending: a job queued after it (reopen, close) must also come before later records.
    if (this.batch !== undefined) return this.pending === 1 ? this.batch : undefined;
    const file = this.file;
    const appendSync = file?.appendSync?.bind(file);
    if (this.pending > 0 || this.isClosed || !this.healthy || this.isTorn || this.opts.syncEachRecord === true || appendSync === undefined) return undefined;
    const batch = new RecordBatch(this.chain, this.batchBuffer ?? Buffer.allocUnsafe(64 * 1024));
    this.batchBuffer = undefined;
    this.batch = batch;
    this.pending++;
    this.queue = batch.done;
    setImmediate(() => this.flush(batch, appendSync));
    return batch;
  }

  /** Writes a batch in one append; on failure none of its records counts and the chain is rolled back to before it. */
  private flush(batch: RecordBatch, appendSync: (data: Uint8Array) => void): void {
    this.batch = undefined;
    const bytes = batch.bytes;
    // Until it is acknowledged, the batch counts as torn: a failed append is cut before the next record.
    this.isTorn = true;
    let isWritten = false;
    try {
      appendSync(bytes);
      isWritten = true;
    } catch (err) {
      this.chain = { ...batch.chainBefore };
      batch.events.forEach((event, i) => this.writeFailed(event, batch.chainBefore.seq + 1 + i, err));
    }
    if (isWritten) {
      this.goodSize += bytes.length;
      this.isTorn = false;
      for (const event of batch.events) this.observer.recordWritten(event);
      this.setHealthy(true);
    }
    this.batchBuffer = batch.reusableBuffer();
    this.pending--;
    // Last: a waiter may forward its statement and so append the next record, which must find the log settled.
    batch.settled(isWritten);
  }

  private async writeNow(sealed: SealedEntry): Promise<AuditWriteResult> {
    if (this.isClosed) {
      this.opts.logger.error({ event: sealed.event }, 'audit record written after close');
      return this.failedResult();
    }
    const seq = this.chain.seq + 1;
    const bytes = recordBytes({ seq, time: formatAuditTime(this.opts.clock.nowMs()), prev: this.chain.prev }, sealed);
    try {
      if (this.file === undefined && !(await this.openPath())) throw new Error('audit file is not open');
      const file = this.file;
      if (file === undefined) throw new Error('audit file is not open');
      await this.repairTail(file);
      // Until it is acknowledged, the line counts as torn: a failed append or sync is cut before the next record.
      this.isTorn = true;
      await file.append(bytes);
      if (this.opts.syncEachRecord === true) await file.sync();
      this.isTorn = false;
    } catch (err) {
      return this.writeFailed(sealed.event, seq, err);
    }
    this.goodSize += bytes.length;
    this.chain = { seq, prev: lineHash(bytes.subarray(0, bytes.length - 1)) };
    this.observer.recordWritten(sealed.event);
    this.setHealthy(true);
    return { written: true, proceed: true, seq };
  }

  /** What a record that could not be written means for its action. */
  private failedResult(): AuditWriteResult {
    return { written: false, proceed: this.opts.onFailure === 'continue' };
  }

  /** A record could not be written: counted, logged once per outage, and the log is unhealthy until a write or probe succeeds. */
  private writeFailed(event: AuditEvent, seq: number, err: unknown): AuditWriteResult {
    this.observer.writeFailed(event);
    if (this.healthy) this.opts.logger.error({ path: this.opts.path, event, seq, err: errorCode(err), policy: this.opts.onFailure }, 'audit record could not be written');
    this.setHealthy(false);
    return this.failedResult();
  }

  /** Saves where the chain stands, so a restart into an empty (rotated) file continues it; a failure only warns. */
  private async saveState(): Promise<void> {
    try {
      await this.fs.writeState(this.opts.path, `${JSON.stringify(this.chain)}\n`);
    } catch (err) {
      this.opts.logger.warn({ path: this.opts.path, err: errorCode(err) }, 'audit chain state could not be saved');
    }
  }

  private async repairTail(file: AuditFile): Promise<void> {
    if (!this.isTorn) return;
    await file.truncate(this.goodSize);
    this.isTorn = false;
  }

  /** Opens the path and adopts it: the in-memory chain continues (whatever the new file holds). */
  private async openPath(): Promise<boolean> {
    let file: AuditFile | undefined;
    try {
      file = await this.fs.openAppend(this.opts.path);
      const tail = await cutTornTail(file, this.opts.path, this.opts.logger);
      this.file = file;
      this.goodSize = tail.completeSize;
      this.isTorn = false;
    } catch (err) {
      await file?.close().catch(() => undefined);
      if (this.healthy) this.opts.logger.error({ path: this.opts.path, err: errorCode(err), policy: this.opts.onFailure }, 'audit file could not be opened');
      this.setHealthy(false);
      return false;
    }
    this.setHealthy(true);
    return true;
  }

  private setHealthy(healthy: boolean): void {
    if (healthy && !this.healthy) this.opts.logger.warn({ path: this.opts.path, seq: this.chain.seq }, 'audit log writable again');
    this.healthy = healthy;
  }
}
