/** Proxy-issued cancel keys mapped to upstream sessions; verifies and forwards CancelRequests (wire.md §12). */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Logger, UpstreamTarget } from '../../auth/types.js';
import type { CancelResult, SessionObserver } from './observer.js';
import type { PeerCancelRouter } from './peer-cancel.js';
import { encodeReplicaPid, maxSessionNumber } from './replica-pid.js';
import { SourceRateLimiter } from './source-rate-limiter.js';
import type { SendUpstreamCancelFn } from './upstream-types.js';

/** Length of a 3.0 CancelRequest, the only kind the proxy's 4-byte keys can match. */
export const cancelRequestBytes = 16;

interface Entry {
  key: Buffer;
  target: UpstreamTarget;
  upstreamPid: number;
  upstreamKey: Buffer;
  /** The cancelled session's logger (its connection id), for the lines about cancelling it. */
  sessionLogger: Logger;
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
  /** Sustained cancels per second per source address (default 10). */
  ratePerSecond?: number;
  /** Bucket size (default = ratePerSecond). */
  burst?: number;
  /** Most source addresses tracked at once (default 10,000); the oldest is dropped. */
  maxTrackedSources?: number;
  /** Upstream cancel wait for EOF (default 5,000 ms). */
  upstreamTimeoutMs?: number;
  nowMs?: () => number;
  /** With `cluster` set: pids carry this replica's tag, and keys held elsewhere go to the router. */
  peers?: PeerCancelRouter;
}

/** Issues cancel keys and forwards valid CancelRequests to the right upstream session. */
export class CancelRegistry {
  private readonly entries = new Map<number, Entry>();
  private readonly opts: CancelRegistryOptions;
  private readonly limiter: SourceRateLimiter;

  constructor(opts: CancelRegistryOptions) {
    this.opts = opts;
    const ratePerSecond = opts.ratePerSecond ?? 10;
    this.limiter = new SourceRateLimiter({
      ratePerSecond,
      burst: opts.burst ?? ratePerSecond,
      maxTrackedSources: opts.maxTrackedSources ?? 10_000,
      ...(opts.nowMs === undefined ? {} : { nowMs: opts.nowMs }),
    });
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
  issue(target: UpstreamTarget, upstreamPid: number, upstreamKey: Buffer, sessionLogger: Logger = this.opts.logger): IssuedKey {
    const pid = this.opts.peers === undefined ? this.freeRandomPid() : this.freeClusterPid(this.opts.peers.selfTag);
    const key = randomBytes(4);
    const entry: Entry = { key, target, upstreamPid, upstreamKey: Buffer.from(upstreamKey), sessionLogger };
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

  /** A random free session number, then a scan once the space is crowded (config caps live sessions well below it). */
  private freeClusterPid(tag: number): number {
    for (let i = 0; i < 64; i++) {
      const pid = encodeReplicaPid(tag, randomInt(1, maxSessionNumber + 1));
      if (!this.entries.has(pid)) return pid;
    }
    for (let n = 1; n <= maxSessionNumber; n++) if (!this.entries.has(encodeReplicaPid(tag, n))) return encodeReplicaPid(tag, n);
    throw new Error(`all ${maxSessionNumber} cancel-key session numbers are in use`);
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
    try {
      await this.opts.sendUpstreamCancel(entry.target, entry.upstreamPid, entry.upstreamKey, this.opts.upstreamTimeoutMs ?? 5000, sessionLogger);
      sessionLogger.info({ event: 'cancel_forwarded', source: sourceAddress }, 'client cancel request forwarded upstream');
      return 'forwarded';
    } catch (err) {
      logger.warn({ event: 'cancel_forward_failed', err: errorSummary(err) }, 'forwarding cancel request failed');
      sessionLogger.warn({ event: 'cancel_forward_failed', err: errorSummary(err) }, 'forwarding a client cancel request upstream failed');
      return 'error';
    }
  }
}

function errorSummary(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
