/** SCRAM-SHA-256 client (RFC 5802 / RFC 7677) for upstream logins, without channel binding. */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/** The SASL mechanism name the client uses. */
export const scramMechanism = 'SCRAM-SHA-256';

/** A SCRAM exchange failed: malformed server message, weak parameters, or a wrong server signature. */
export class ScramError extends Error {
  override readonly name = 'ScramError';
  readonly code = 'SCRAM_FAILED';
}

/** Options of ScramSha256Client. */
export interface ScramClientOptions {
  /** User name in client-first (default empty: PostgreSQL uses the startup user). */
  user?: string;
  /** Client nonce (tests only); default 18 random bytes in base64. */
  nonce?: string;
  /** Lowest iteration count accepted (default 4096, PostgreSQL's default). */
  minIterations?: number;
  /** Highest iteration count accepted, bounding pbkdf2's CPU time (default 100,000). */
  maxIterations?: number;
  /** Memo of SaltedPassword values, so repeated logins with one password skip pbkdf2. */
  saltedPasswordCache?: SaltedPasswordCache;
}

/**
 * A bounded LRU of SCRAM SaltedPassword values. A role's salt and iteration count stay fixed until its
 * password changes, so every warm login with cached credentials would otherwise repeat the same 4096
 * rounds of pbkdf2 (milliseconds of blocked event loop). Keys are hashes; no password is stored.
 */
export class SaltedPasswordCache {
  private readonly entries = new Map<string, Buffer>();
  private readonly maxEntries: number;

  constructor(maxEntries = 1000) {
    this.maxEntries = maxEntries;
  }

  /** SaltedPassword for (password, salt, iterations), computed once per key. */
  get(password: Buffer, salt: Buffer, iterations: number): Buffer {
    const key = createHash('sha256').update(password).update('\0').update(salt).update(`\0${iterations}`).digest('hex');
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const value = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, value);
    return value;
  }

  /** Number of cached values. */
  get size(): number {
    return this.entries.size;
  }
}

const gs2Header = 'n,,';
const maxServerMessageBytes = 4096;

function saslName(user: string): string {
  return user.replaceAll('=', '=3D').replaceAll(',', '=2C');
}

/** SASLprep mapping (RFC 4013 §2.1) + NFKC, without the prohibition checks, as libpq and node-postgres do. */
function normalizePassword(password: string): Buffer {
  if (/^[\x20-\x7e]*$/.test(password)) return Buffer.from(password, 'utf8');
  const mapped = password
    .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
    .replace(/[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '')
    .normalize('NFKC');
  return Buffer.from(mapped, 'utf8');
}

function parseAttributes(msg: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const part of msg.split(',')) {
    const m = /^([A-Za-z])=(.*)$/s.exec(part);
    if (m === null) throw new ScramError('malformed SCRAM attribute');
    const key = m[1]!;
    if (attrs.has(key)) throw new ScramError(`duplicate SCRAM attribute ${key}`);
    attrs.set(key, m[2]!);
  }
  return attrs;
}

function toText(msg: Buffer | string): string {
  const text = typeof msg === 'string' ? msg : msg.toString('utf8');
  if (Buffer.byteLength(text) > maxServerMessageBytes) throw new ScramError('SCRAM server message too long');
  return text;
}

/** One SCRAM-SHA-256 exchange: createClientFirst → handleServerFirst → verifyServerFinal. */
export class ScramSha256Client {
  private readonly clientNonce: string;
  private readonly clientFirstBare: string;
  private readonly minIterations: number;
  private readonly maxIterations: number;
  private readonly saltedPasswordCache: SaltedPasswordCache | undefined;
  private expectedServerSignature: Buffer | undefined;
  private state: 'initial' | 'sentFirst' | 'sentFinal' | 'done' = 'initial';

  constructor(opts: ScramClientOptions = {}) {
    this.clientNonce = opts.nonce ?? randomBytes(18).toString('base64');
    if (this.clientNonce.length === 0 || this.clientNonce.includes(',')) throw new Error('invalid SCRAM client nonce');
    this.clientFirstBare = `n=${saslName(opts.user ?? '')},r=${this.clientNonce}`;
    this.minIterations = opts.minIterations ?? 4096;
    this.maxIterations = opts.maxIterations ?? 100_000;
    this.saltedPasswordCache = opts.saltedPasswordCache;
  }

  /** client-first-message: `n,,n=<user>,r=<nonce>`. */
  createClientFirst(): Buffer {
    if (this.state !== 'initial') throw new ScramError('SCRAM client-first already sent');
    this.state = 'sentFirst';
    return Buffer.from(gs2Header + this.clientFirstBare, 'utf8');
  }

  /** Checks server-first-message and returns client-final-message with the proof. */
  handleServerFirst(msg: Buffer | string, password: string): Buffer {
    if (this.state !== 'sentFirst') throw new ScramError('unexpected SCRAM server-first message');
    const serverFirst = toText(msg);
    const attrs = parseAttributes(serverFirst);
    if (attrs.has('m')) throw new ScramError('unsupported SCRAM mandatory extension');
    const nonce = attrs.get('r');
    const saltB64 = attrs.get('s');
    const iterText = attrs.get('i');
    if (nonce === undefined || saltB64 === undefined || iterText === undefined) throw new ScramError('SCRAM server-first lacks r, s or i');
    if (!nonce.startsWith(this.clientNonce) || nonce.length <= this.clientNonce.length) throw new ScramError('SCRAM server nonce does not extend the client nonce');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(saltB64)) throw new ScramError('SCRAM salt is not base64');
    const salt = Buffer.from(saltB64, 'base64');
    if (salt.length === 0) throw new ScramError('SCRAM salt is empty');
    if (!/^[1-9][0-9]{0,9}$/.test(iterText)) throw new ScramError('SCRAM iteration count is not a number');
    const iterations = Number(iterText);
    if (iterations < this.minIterations) throw new ScramError(`SCRAM iteration count ${iterations} is below ${this.minIterations}`);
    if (iterations > this.maxIterations) throw new ScramError(`SCRAM iteration count ${iterations} is above ${this.maxIterations}`);

    const normalized = normalizePassword(password);
    const saltedPassword =
      this.saltedPasswordCache?.get(normalized, salt, iterations) ?? pbkdf2Sync(normalized, salt, iterations, 32, 'sha256');
    const clientKey = createHmac('sha256', saltedPassword).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const clientFinalWithoutProof = `c=${Buffer.from(gs2Header).toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const clientSignature = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    const serverKey = createHmac('sha256', saltedPassword).update('Server Key').digest();
    this.expectedServerSignature = createHmac('sha256', serverKey).update(authMessage).digest();
    this.state = 'sentFinal';
    return Buffer.from(`${clientFinalWithoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Verifies server-final-message (`v=<signature>`) in constant time; throws ScramError otherwise. */
  verifyServerFinal(msg: Buffer | string): void {
    if (this.state !== 'sentFinal' || this.expectedServerSignature === undefined) throw new ScramError('unexpected SCRAM server-final message');
    const attrs = parseAttributes(toText(msg));
    const serverError = attrs.get('e');
    if (serverError !== undefined) throw new ScramError(`SCRAM server error: ${serverError.slice(0, 100)}`);
    const v = attrs.get('v');
    if (v === undefined) throw new ScramError('SCRAM server-final lacks v');
    const got = Buffer.from(v, 'base64');
    const want = this.expectedServerSignature;
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw new ScramError('SCRAM server signature mismatch');
    this.state = 'done';
  }

  /** True once the server signature has been verified. */
  get isComplete(): boolean {
    return this.state === 'done';
  }
}
