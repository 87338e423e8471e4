/** Proxy-issued cancel keys mapped to upstream sessions; verifies and forwards CancelRequests (docs/design/wire-protocol.md §12). */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Logger, UpstreamTarget } from '../../auth/types.js';
import type { CancelResult, SessionObserver } from '../telemetry/observer.js';
import type { CancelPeers, CancelRateLimiter } from './cancel-peers.js';
import type { SendUpstreamCancelFn } from '../upstream/types.js';

/** Length of a 3.0 CancelRequest, the only kind the proxy's 4-byte keys can match. */
export const cancelRequestBytes = 16;

interface Entry {
  key: Buffer;
  target: UpstreamTarget;
  upstreamPid: number;
  upstreamKey: Buffer;
  /** The cancelled session's logger (its connection id), for the lines about cancelling it. */
  sessionLogger: Logger;
  hooks: ForwardedCancelHooks | undefined;
}

/** Told when a CancelRequest for a session is forwarded upstream and when that is done (upstream reuse holds the session meanwhile). */
export interface ForwardedCancelHooks {
  started(): void;
  settled(): void;
}

/** The proxy's BackendKeyData for one session, and how to drop it. */
export interface IssuedKey {
  pid: number;
  key: Buffer;
  /** Removes the entry (idempotent). */
  release(): void;
}

/** Options of a CancelRegistry. */
export interface CancelRegistryOptions {
  sendUpstreamCancel: SendUpstreamCancelFn;
  logger: Logger;
  observer: SessionObserver;
  /** Per-source cancel rate limit (the server's SourceRateLimiter). */
  limiter: CancelRateLimiter;
  /** Upstream cancel wait for EOF (default 5,000 ms). */
  upstreamTimeoutMs?: number;
  /** With `cluster` set: pids carry this replica's tag, and keys held elsewhere go to the fleet. */
  peers?: CancelPeers;
}

/** Issues cancel keys and forwards valid CancelRequests to the right upstream session. */
export class CancelRegistry {
  private readonly entries = new Map<number, Entry>();
  private readonly opts: CancelRegistryOptions;
  private readonly limiter: CancelRateLimiter;

  constructor(opts: CancelRegistryOptions) {
    this.opts = opts;
    this.limiter = opts.limiter;
  }

  /** Number of live sessions with a key. */
  get size(): number {
    return this.entries.size;
  }

  /** Source addresses whose cancel rate is tracked (bounded by maxTrackedSources). */
  get trackedSources(): number {
    return this.limiter.trackedSources;
  }

  /** Issues a fresh proxy pid (1 … 2³¹−1, or a cluster pid naming this replica; unique while live) and 4-byte key for an upstream session. */
  issue(target: UpstreamTarget, upstreamPid: number, upstreamKey: Buffer, sessionLogger: Logger = this.opts.logger, hooks?: ForwardedCancelHooks): IssuedKey {
    const pid = this.opts.peers === undefined ? this.freeRandomPid() : this.opts.peers.issuePid((p) => this.entries.has(p));
    const key = randomBytes(4);
    const entry: Entry = { key, target, upstreamPid, upstreamKey: Buffer.from(upstreamKey), sessionLogger, hooks };
    this.entries.set(pid, entry);
    return {
      pid,
      key,
      release: () => {
        if (this.entries.get(pid) === entry) this.entries.delete(pid);
      },
    };
  }

  private freeRandomPid(): number {
    let pid: number;
    do pid = randomInt(1, 2 ** 31);
    while (this.entries.has(pid));
    return pid;
  }

  /** Handles one CancelRequest (`isProxied`: it came through a balancer's PROXY header); never throws. The caller closes the client socket silently either way. */
  async handle(pid: number, key: Buffer, packetBytes: number, sourceAddress: string, logger: Logger = this.opts.logger, isProxied = false): Promise<CancelResult> {
    const result = await this.route(pid, key, packetBytes, sourceAddress, logger, isProxied);
    this.opts.observer.cancel(result);
    return result;
  }

  private async route(pid: number, key: Buffer, packetBytes: number, sourceAddress: string, logger: Logger, isProxied: boolean): Promise<CancelResult> {
    const peers = this.opts.peers;
    // Replicas reach each other directly (no header, or a LOCAL one): a proxied source address is a client's, even if it equals a peer's.
    const isFromPeer = !isProxied && (peers?.isFromPeer(sourceAddress) ?? false);
    // A peer forwards cancels of many clients, each already limited on that peer.
    if (!isFromPeer && !this.limiter.take(sourceAddress).isAllowed) return 'rate_limited';
    const localPid = peers === undefined ? pid : peers.localPid(pid, isFromPeer);
    const entry = localPid === undefined ? undefined : this.entries.get(localPid);
    if (peers !== undefined && entry === undefined && packetBytes === cancelRequestBytes) return peers.route(pid, key, isFromPeer, logger);
    if (packetBytes !== cancelRequestBytes || entry === undefined || key.length !== entry.key.length || !timingSafeEqual(key, entry.key)) {
      logger.info({ event: 'cancel_unknown_key' }, 'cancel request with unknown key dropped');
      return 'unknown_key';
    }
    // Logged on the cancelled session's logger too, so its connection id ties the cancel to the query it stopped.
    const sessionLogger = entry.sessionLogger;
    entry.hooks?.started();
    try {
      await this.opts.sendUpstreamCancel(entry.target, entry.upstreamPid, entry.upstreamKey, this.opts.upstreamTimeoutMs ?? 5000, sessionLogger);
      sessionLogger.info({ event: 'cancel_forwarded', source: sourceAddress }, 'client cancel request forwarded upstream');
      return 'forwarded';
    } catch (err) {
      logger.warn({ event: 'cancel_forward_failed', err: errorSummary(err) }, 'forwarding cancel request failed');
      sessionLogger.warn({ event: 'cancel_forward_failed', err: errorSummary(err) }, 'forwarding a client cancel request upstream failed');
      return 'error';
    } finally {
      entry.hooks?.settled();
    }
  }
}

function errorSummary(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
