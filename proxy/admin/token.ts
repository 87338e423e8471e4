/** The admin bearer token of `admin.tokenFile` (docs/design/surface.md §6): read, re-read on reload, and compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Longest token file read (a token is a short secret; anything bigger is a mistake). */
export const maxTokenFileBytes = 4096;

/** Reads and trims the token file; throws an Error naming the path (never the content) when unreadable, empty or too large. */
export function readAdminToken(path: string): string {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  if (raw.length > maxTokenFileBytes) throw new Error(`${path} is larger than ${maxTokenFileBytes} bytes`);
  const token = raw.toString('utf8').trim();
  if (token === '') throw new Error(`${path} is empty`);
  return token;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Checks `Authorization: Bearer <token>` headers against the current token; the token can be swapped on reload. */
export class AdminToken {
  private expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  /** Replaces the token (SIGHUP reload). */
  set(token: string): void {
    this.expected = digest(token);
  }

  /** True when `authorization` is `Bearer <token>`; compares sha256 digests, so neither content nor length leaks through timing. */
  isAuthorized(authorization: string | undefined): boolean {
    if (authorization === undefined || authorization.slice(0, 7).toLowerCase() !== 'bearer ') return false;
    return timingSafeEqual(digest(authorization.slice(7).trim()), this.expected);
  }
}
