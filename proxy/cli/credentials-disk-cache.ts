/** The `rsproxy credentials` disk cache: one 0600 JSON file per key in a 0700 directory, an O_EXCL lock file per key, atomic writes. */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CredentialsOutput } from './conn-strings.js';

/** What identifies one set of temporary credentials (docs/design/aws.md §8 key plus the AWS credential source). */
export interface DiskCacheKeyParts {
  target: { kind: 'cluster' | 'workgroup'; id: string };
  region: string;
  /** Absent on workgroups (the user comes from the caller). */
  dbUser?: string;
  dbName: string;
  dbGroups: readonly string[];
  autoCreate: boolean;
  durationSeconds?: number;
  /** `profile:<name>`, `akid:<access key id>` or `chain:default`: two sources never share an entry. */
  credentialSource: string;
}

/** One cached entry: exactly what `rsproxy credentials` prints. The password is on disk only in a 0600 file. */
export type CachedCredentials = CredentialsOutput;

/** Options of CredentialsDiskCache. */
export interface DiskCacheOptions {
  dir: string;
  nowMs?: () => number;
  /** An entry is used until this long before its expiration (default 60 s). */
  marginMs?: number;
  /** A lock file older than this is left over from a dead process and is removed (default 30 s). */
  staleLockMs?: number;
  /** Give up waiting for another process's lock after this long (default 60 s). */
  lockWaitMs?: number;
  /** Poll interval while another process holds the lock (default 50 ms). */
  pollMs?: number;
}

/** Result of getOrFetch: the entry and whether this call made the API call. */
export interface DiskCacheResult {
  entry: CachedCredentials;
  source: 'cache' | 'fetched';
}

const fileMode = 0o600;
const dirMode = 0o700;

/** `$XDG_CACHE_HOME/rsproxy` when XDG_CACHE_HOME is an absolute path, else `~/.cache/rsproxy`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const xdg = env['XDG_CACHE_HOME'];
  // The XDG spec says relative paths are invalid and must be ignored.
  const base = xdg !== undefined && xdg.startsWith('/') ? xdg : join(home, '.cache');
  return join(base, 'rsproxy');
}

/** The cache key: sha256 (hex) of the canonical key parts, groups sorted. */
export function diskCacheKey(parts: DiskCacheKeyParts): string {
  const canonical = JSON.stringify([
    1,
    parts.target.kind,
    parts.target.id,
    parts.region,
    parts.dbUser ?? null,
    parts.dbName,
    [...parts.dbGroups].sort(),
    parts.autoCreate,
    parts.durationSeconds ?? null,
    parts.credentialSource,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

function isCached(v: unknown): v is CachedCredentials {
  const o = v as Partial<CachedCredentials> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.dbUser === 'string' &&
    typeof o.dbPassword === 'string' &&
    typeof o.expiresAtMs === 'number' &&
    typeof o.host === 'string' &&
    typeof o.port === 'number' &&
    typeof o.dbName === 'string'
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function errCode(err: unknown): unknown {
  return (err as { code?: unknown } | null)?.code;
}

/** A file-per-key credentials cache shared by concurrent processes of one user. */
export class CredentialsDiskCache {
  readonly dir: string;
  readonly #nowMs: () => number;
  readonly #marginMs: number;
  readonly #staleLockMs: number;
  readonly #lockWaitMs: number;
  readonly #pollMs: number;

  constructor(opts: DiskCacheOptions) {
    this.dir = opts.dir;
    this.#nowMs = opts.nowMs ?? Date.now;
    this.#marginMs = opts.marginMs ?? 60_000;
    this.#staleLockMs = opts.staleLockMs ?? 30_000;
    this.#lockWaitMs = opts.lockWaitMs ?? 60_000;
    this.#pollMs = opts.pollMs ?? 50;
  }

  /** Path of the entry file for `key`. */
  entryPath(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  /** Path of the lock file for `key`. */
  lockPath(key: string): string {
    return join(this.dir, `${key}.lock`);
  }

  /** Creates the directory (0700) and tightens its mode if it already existed. */
  async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: dirMode });
    await chmod(this.dir, dirMode);
  }

  /** The entry for `key` when it is still usable (more than the margin before expiry); corrupt files count as absent. */
  async read(key: string): Promise<CachedCredentials | undefined> {
    let text: string;
    try {
      text = await readFile(this.entryPath(key), 'utf8');
    } catch (err) {
      if (errCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!isCached(parsed)) return undefined;
    return parsed.expiresAtMs - this.#marginMs > this.#nowMs() ? parsed : undefined;
  }

  /** Writes the entry atomically: a 0600 temp file in the same directory, then rename. */
  async write(key: string, entry: CachedCredentials): Promise<void> {
    await this.ensureDir();
    const tmp = join(this.dir, `${key}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(tmp, 'wx', fileMode);
    try {
      await fh.chmod(fileMode); // the umask may have taken bits away; never added any
      await fh.writeFile(JSON.stringify(entry), 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, this.entryPath(key));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
  }

  /** A usable cached entry, or one `fetch()` under the key's lock while other processes wait for its result. */
  async getOrFetch(key: string, fetch: () => Promise<CachedCredentials>): Promise<DiskCacheResult> {
    await this.ensureDir();
    const cached = await this.read(key);
    if (cached !== undefined) return { entry: cached, source: 'cache' };
    const lock = await this.#acquire(key);
    if (lock === 'filled') {
      const entry = await this.read(key);
      if (entry !== undefined) return { entry, source: 'cache' };
      throw new Error('credentials cache entry vanished while waiting for its lock');
    }
    try {
      // Another process may have written the entry between our read and our lock.
      const again = await this.read(key);
      if (again !== undefined) return { entry: again, source: 'cache' };
      const entry = await fetch();
      await this.write(key, entry);
      return { entry, source: 'fetched' };
    } finally {
      await unlink(this.lockPath(key)).catch(() => {});
    }
  }

  /** Takes the lock (returns 'locked'), or returns 'filled' when another holder wrote a usable entry meanwhile. */
  async #acquire(key: string): Promise<'locked' | 'filled'> {
    const path = this.lockPath(key);
    const giveUpAt = this.#nowMs() + this.#lockWaitMs;
    for (;;) {
      try {
        const fh = await open(path, 'wx', fileMode);
        try {
          await fh.chmod(fileMode);
          await fh.writeFile(`${process.pid}\n`, 'utf8');
        } finally {
          await fh.close();
        }
        return 'locked';
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw err;
      }
      if ((await this.read(key)) !== undefined) return 'filled';
      try {
        const st = await stat(path);
        if (Date.now() - st.mtimeMs > this.#staleLockMs) {
          await unlink(path).catch(() => {});
          continue;
        }
      } catch (err) {
        if (errCode(err) === 'ENOENT') continue;
        throw err;
      }
      if (this.#nowMs() > giveUpAt) throw new Error(`timed out waiting for the credentials cache lock ${path}`);
      await sleep(this.#pollMs);
    }
  }
}
