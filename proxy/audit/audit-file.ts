/** The file port of the audit log (an append handle that can also read its tail) and its node:fs implementation. */
import { writeSync } from 'node:fs';
import { open, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** An open audit file: appends go to its end. */
export interface AuditFile {
  /** Current size in bytes. */
  size(): Promise<number>;
  /** Reads up to `length` bytes at `position`. */
  read(position: number, length: number): Promise<Uint8Array>;
  /** Appends all of `data` (loops over short writes); rejects if any of it could not be written. */
  append(data: Uint8Array): Promise<void>;
  /** As append, synchronously (throws instead of rejecting); a file without it is written through append only. */
  appendSync?(data: Uint8Array): void;
  /** Flushes written data to the disk. */
  sync(): Promise<void>;
  /** Cuts the file to `size` bytes (drops a torn tail). */
  truncate(size: number): Promise<void>;
  close(): Promise<void>;
}

/** Opens audit files; tests swap it for fakes that fail on demand. */
export interface AuditFs {
  /** Opens (creating, mode 0600) `path` for appending and reading. */
  openAppend(path: string): Promise<AuditFile>;
  /** Rejects unless a small file can be written next to `path` (the disk has room again). */
  probeWritable(path: string): Promise<void>;
  /** The chain state saved next to `path` by writeState; undefined if there is none. */
  readState(path: string): Promise<string | undefined>;
  /** Saves the chain state next to `path`, replacing the old one atomically. */
  writeState(path: string, text: string): Promise<void>;
}

/** The hidden file next to the log that holds the chain state across a rotation and a restart. */
export const statePathOf = (path: string): string => join(dirname(path), `.${basename(path)}.chain`);

/**
 * Writes `data` from `offset` to the end. Synchronous on purpose: a line into the page cache is a ~2 µs syscall,
 * while the thread-pool round trip of an async write cost ~35 µs of CPU per write (a statement record per query).
 * The audit file belongs on a local disk (docs/operations/audit.md); a stalled one would hold every recorded action anyway.
 */
function writeAll(fd: number, data: Uint8Array, offset: number): void {
  while (offset < data.length) {
    const bytesWritten = writeSync(fd, data, offset, data.length - offset);
    if (bytesWritten <= 0) throw new Error('audit file write made no progress');
    offset += bytesWritten;
  }
}

class NodeAuditFile implements AuditFile {
  constructor(private readonly handle: FileHandle) {}

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await this.handle.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  }

  async append(data: Uint8Array): Promise<void> {
    writeAll(this.handle.fd, data, 0);
  }

  appendSync(data: Uint8Array): void {
    writeAll(this.handle.fd, data, 0);
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  async truncate(size: number): Promise<void> {
    await this.handle.truncate(size);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** The real file system. */
export const nodeAuditFs: AuditFs = {
  async openAppend(path) {
    // a+: O_APPEND for every write, and reads for the tail at open.
    return new NodeAuditFile(await open(path, 'a+', 0o600));
  },
  async probeWritable(path) {
    const probe = join(dirname(path), `.${basename(path)}.probe`);
    const handle = await open(probe, 'w', 0o600);
    try {
      await handle.write(Buffer.alloc(4096));
      await handle.datasync();
    } finally {
      await handle.close();
      await unlink(probe).catch(() => undefined);
    }
  },
  async readState(path) {
    try {
      return await readFile(statePathOf(path), 'utf8');
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
      throw err;
    }
  },
  async writeState(path, text) {
    const target = statePathOf(path);
    const tmp = `${target}.tmp`;
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, target);
  },
};

/** The last complete line of a file and the size up to the end of it (a torn tail without newline is not counted). */
export interface FileTail {
  /** The bytes of the last newline-terminated line, without its newline; undefined if the file holds none. */
  lastLine: Uint8Array | undefined;
  /** Bytes up to and including the last newline. */
  completeSize: number;
}

const newline = 0x0a;

/** Finds the last complete line by reading backwards in chunks (records can be long in `full` mode). */
export async function readTail(file: AuditFile, size: number, chunkBytes = 65536): Promise<FileTail> {
  // Bytes read so far, from `start` to `size`.
  let start = size;
  let buf: Uint8Array = new Uint8Array(0);
  let lastNewline = -1;
  while (start > 0) {
    const from = Math.max(0, start - chunkBytes);
    const chunk = await file.read(from, start - from);
    if (chunk.length !== start - from) throw new Error('audit file shrank while reading its tail');
    buf = Buffer.concat([chunk, buf]);
    start = from;
    if (lastNewline === -1) {
      lastNewline = buf.lastIndexOf(newline);
      if (lastNewline === -1) continue;
    } else {
      lastNewline += chunk.length;
    }
    const before = lastNewline === 0 ? -1 : buf.lastIndexOf(newline, lastNewline - 1);
    if (before !== -1 || start === 0) {
      return { lastLine: buf.slice(before + 1, lastNewline), completeSize: start + lastNewline + 1 };
    }
  }
  return { lastLine: undefined, completeSize: 0 };
}
