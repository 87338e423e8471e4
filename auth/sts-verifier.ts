/** The strict STS token verifier: local checks, cache, rebuilt presigned GET over node:https, strict answer (docs/design/token.md §4–9). */
import { Buffer } from 'node:buffer';
import * as http from 'node:http';
import * as https from 'node:https';
import { withDeadline } from './deadline.js';
import { AuthError, AuthErrorCode, isAuthError } from './errors.js';
import { buildStsRequest, type StsRequest } from './sts-request.js';
import { checkIdentityAllowed, parseStsError, stsMaxBodyBytes, validateStsResponse } from './sts-response.js';
import { parseToken, type ParsedToken } from './token-parse.js';
import type { AuthObserver, Clock, Identity, IdentityOptions, Logger, TokenVerifier } from './types.js';
import { createVerifiedTokenCache, tokenCacheKey } from './verified-token-cache.js';


// The one retry waits 100–300 ms (full jitter over a small window).
const minRetryDelayMs = 100;
const maxRetryJitterMs = 300;
/** Options of createStsVerifier. */
export interface StsVerifierOptions {
  identity: IdentityOptions;
  clock: Clock;
  logger: Logger;
  observer: AuthObserver;
  /** `AWS_ENDPOINT_URL_STS ?? AWS_ENDPOINT_URL`, read by the caller; the signed Host header stays the STS host. */
  endpointUrl?: string;
  /** STS requests in flight per process (default 64). */
  maxConcurrent?: number;
  /** Default 3,000 ms, capped by the login deadline. */
  connectTimeoutMs?: number;
  /** Whole exchange, default 5,000 ms, capped by the login deadline. */
  totalTimeoutMs?: number;
  /** Extra CA bundle (PEM) for the STS connection (tests). */
  tlsCa?: string;
  /** Uniform in [0, 1) for the retry jitter (tests). */
  random?: () => number;
}

/** A TokenVerifier whose cache can be dropped on config reload and whose keep-alive sockets can be closed. */
export type StsVerifier = TokenVerifier & { clearCache(): void; close(): void };

/** STS throttling error codes (docs/design/token.md §5). */
export const stsThrottleCodes: ReadonlySet<string> = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded']);

// Unavailable answers that are not network errors, 5xx or throttling (3xx, other 2xx, body over cap): never retried.
const notRetryable = new WeakSet<Error>();
const final = (err: AuthError): AuthError => {
  notRetryable.add(err);
  return err;
};

type StsResult = 'ok' | 'rejected' | 'invalid_response' | 'throttled' | 'unavailable';

interface RawResponse {
  status: number;
  contentType: string | undefined;
  requestId: string | undefined;
  body: Buffer;
}

/** True for localhost, 127.0.0.0/8 and ::1: the only hosts an `http:` STS override may name (demo, tests). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m !== null && m.slice(1).every((octet) => Number(octet) <= 255);
}

const isIpLiteral = (host: string): boolean => host.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(host);

/** Bounds concurrent work; waiters give up at their deadline. */
function createLimiter(max: number, clock: Clock) {
  let active = 0;
  const waiters: (() => void)[] = [];
  const release = () => {
    const next = waiters.shift();
    if (next) next();
    else active--;
  };
  return async function acquire(deadlineMs: number): Promise<() => void> {
    if (active < max) {
      active++;
      return release;
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve(release);
      };
      const timer = setTimeout(() => {
        const i = waiters.indexOf(grant);
        if (i >= 0) waiters.splice(i, 1);
        reject(new AuthError(AuthErrorCode.StsUnavailable, 'STS concurrency limit: no slot before the login deadline'));
      }, Math.max(0, deadlineMs - clock.nowMs()));
      waiters.push(grant);
    });
  };
}

/** Creates the verifier. One instance per config generation; `clearCache()` on an `identity.*` reload. */
export function createStsVerifier(opts: StsVerifierOptions): StsVerifier {
  const { identity, clock, logger, observer } = opts;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
  const totalTimeoutMs = opts.totalTimeoutMs ?? 5000;
  const random = opts.random ?? Math.random;
  const endpoint = opts.endpointUrl === undefined ? undefined : new URL(opts.endpointUrl);
  if (endpoint !== undefined && endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
    throw new Error(`STS endpoint override must be http(s): ${endpoint.protocol}`);
  }
  const isHttp = endpoint?.protocol === 'http:';
  if (endpoint !== undefined && isHttp && !isLoopbackHost(endpoint.hostname)) {
    throw new Error(`STS endpoint override ${endpoint.origin} uses http: outside loopback; only https: may point elsewhere (docs/design/token.md §5)`);
  }
  const maxConcurrent = opts.maxConcurrent ?? 64;
  // An explicit agent: no proxy from the environment, keep-alive to STS, sockets capped like the limiter.
  const agent = isHttp
    ? new http.Agent({ keepAlive: true, maxSockets: maxConcurrent, timeout: totalTimeoutMs })
    : new https.Agent({ keepAlive: true, maxSockets: maxConcurrent, timeout: totalTimeoutMs, ...(opts.tlsCa === undefined ? {} : { ca: opts.tlsCa }) });
  const cache = createVerifiedTokenCache();
  const inflight = new Map<string, Promise<Identity>>();
  const acquire = createLimiter(maxConcurrent, clock);

  function send(req: StsRequest, deadlineMs: number): Promise<RawResponse> {
    const dialHost = endpoint === undefined ? req.host : endpoint.hostname.replace(/^\[|\]$/g, '');
    const port = endpoint === undefined ? 443 : Number(endpoint.port || (isHttp ? 80 : 443));
    const remainingMs = Math.max(0, deadlineMs - clock.nowMs());
    const totalMs = Math.min(totalTimeoutMs, remainingMs);
    const connectMs = Math.min(connectTimeoutMs, totalMs);
    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      const fail = (what: string, cause?: unknown, isFinal = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(totalTimer);
        clearTimeout(connectTimer);
        const err = new AuthError(AuthErrorCode.StsUnavailable, `STS request failed: ${what}`, cause === undefined ? undefined : { cause });
        reject(isFinal ? final(err) : err);
        outgoing.destroy();
      };
      const requestOptions: https.RequestOptions = {
        method: 'GET',
        host: dialHost,
        port,
        path: req.path,
        headers: req.headers,
        agent,
      };
      // SNI names the host actually dialled; Node rejects an IP literal as servername.
      if (!isHttp && !isIpLiteral(dialHost)) requestOptions.servername = dialHost;
      const outgoing = (isHttp ? http : https).request(requestOptions, (res) => {
        clearTimeout(connectTimer);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > stsMaxBodyBytes) {
            fail('body over 64 KiB', undefined, true);
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => fail('response stream error', err));
        res.on('aborted', () => fail('response aborted'));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(totalTimer);
          const rid = res.headers['x-amzn-requestid'];
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            requestId: typeof rid === 'string' ? rid : undefined,
            body: Buffer.concat(chunks),
          });
        });
      });
      const totalTimer = setTimeout(() => fail(`no complete answer within ${totalMs} ms`), totalMs);
      const connectTimer = setTimeout(() => fail(`no connection within ${connectMs} ms`), connectMs);
      outgoing.on('socket', (socket) => {
        const connected = () => clearTimeout(connectTimer);
        if (!socket.connecting) connected();
        else socket.once(isHttp ? 'connect' : 'secureConnect', connected);
      });
      outgoing.on('error', (err) => fail('network error', err));
      outgoing.end();
    });
  }

  async function attempt(parsed: ParsedToken, deadlineMs: number): Promise<Identity> {
    const req = buildStsRequest(parsed, identity);
    const log = { akid: parsed.accessKeyId, region: parsed.region, format: parsed.format };
    const startedMs = performance.now();
    let result: StsResult = 'unavailable';
    let isAnswered = false;
    const release = await acquire(deadlineMs);
    try {
      const res = await send(req, deadlineMs);
      isAnswered = true;
      if (res.status === 200) {
        try {
          const id = validateStsResponse(res.contentType, res.body, identity, { accessKeyId: parsed.accessKeyId, stsRegion: parsed.region });
          result = 'ok';
          if (id.stsRequestId === undefined && res.requestId !== undefined) id.stsRequestId = res.requestId;
          logger.debug({ ...log, arn: id.arn, userId: id.userId, stsRequestId: id.stsRequestId }, 'STS verified token');
          return id;
        } catch (err) {
          // A principal-type denial comes from a well-formed answer.
          result = isAuthError(err) && err.code === AuthErrorCode.PrincipalTypeDenied ? 'ok' : 'invalid_response';
          logger.warn({ ...log, reason: isAuthError(err) ? err.reason : 'sts_response', stsRequestId: res.requestId, detail: (err as Error).message }, 'STS answer refused');
          throw err;
        }
      }
      const { code, requestId } = parseStsError(res.body);
      const rid = requestId ?? res.requestId;
      if (res.status === 429 || (res.status === 400 && code !== undefined && stsThrottleCodes.has(code))) {
        result = 'throttled';
        logger.warn({ ...log, reason: 'sts_throttled', status: res.status, code, stsRequestId: rid }, 'STS throttled');
        throw new AuthError(AuthErrorCode.StsThrottled, `STS throttled (${res.status} ${code ?? ''})`);
      }
      if (res.status >= 400 && res.status < 500) {
        result = 'rejected';
        logger.info({ ...log, reason: 'sts_rejected', status: res.status, code, stsRequestId: rid }, 'STS rejected token');
        throw new AuthError(AuthErrorCode.StsRejected, `STS rejected the token (${res.status} ${code ?? ''})`);
      }
      if (res.status >= 300 && res.status < 400) {
        logger.error({ ...log, reason: 'sts_unavailable', status: res.status, stsRequestId: rid }, 'STS answered a redirect; not followed');
      } else {
        logger.warn({ ...log, reason: 'sts_unavailable', status: res.status, code, stsRequestId: rid }, 'STS unavailable');
      }
      const err = new AuthError(AuthErrorCode.StsUnavailable, `STS answered ${res.status}`);
      throw res.status >= 500 ? err : final(err);
    } catch (err) {
      if (!isAnswered) {
        logger.warn({ ...log, reason: 'sts_unavailable', detail: (err as Error).message }, 'STS request failed');
      }
      throw err;
    } finally {
      release();
      observer.stsRequest(result, (performance.now() - startedMs) / 1000);
    }
  }

  async function verifyWithRetry(parsed: ParsedToken, deadlineMs: number): Promise<Identity> {
    try {
      return await attempt(parsed, deadlineMs);
    } catch (err) {
      // One retry, only for network errors, 5xx and throttling; never for a 4xx rejection or a redirect.
      if (!isAuthError(err) || notRetryable.has(err) || (err.code !== AuthErrorCode.StsUnavailable && err.code !== AuthErrorCode.StsThrottled)) throw err;
      const delayMs = minRetryDelayMs + Math.floor(random() * (maxRetryJitterMs - minRetryDelayMs));
      if (clock.nowMs() + delayMs + 100 >= deadlineMs) throw err;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return attempt(parsed, deadlineMs);
    }
  }

  return {
    async verify(token, deadlineMs) {
      // No newline strip here: the session strips one (docs/design/token.md §4 rule 3); parseToken rejects any CR/LF left.
      const parsed = parseToken(token, { identity, nowMs: clock.nowMs() });
      const key = tokenCacheKey(token);
      const cached = cache.get(key, clock.nowMs());
      if (cached !== undefined) {
        checkIdentityAllowed(cached, identity);
        return cached;
      }
      let flight = inflight.get(key);
      if (flight === undefined) {
        // The shared request has its own budget, room for the one retry (docs/design/token.md §5): a joiner must not
        // inherit the first caller's nearly spent deadline. Each waiter still stops at its own deadline.
        flight = verifyWithRetry(parsed, clock.nowMs() + 2 * totalTimeoutMs + maxRetryJitterMs).then((id) => {
          cache.set(key, id, parsed.amzDateMs + identity.maxTokenAgeSeconds * 1000);
          return id;
        });
        const own = flight;
        inflight.set(key, own);
        own.then(
          () => inflight.delete(key),
          () => inflight.delete(key),
        );
      }
      const timedOut = () => new AuthError(AuthErrorCode.StsUnavailable, 'STS verification did not finish before the login deadline');
      const id = { ...(await withDeadline(flight, deadlineMs, clock, timedOut)) };
      checkIdentityAllowed(id, identity);
      return id;
    },
    clearCache() {
      cache.clear();
    },
    close() {
      agent.destroy();
    },
  };
}
