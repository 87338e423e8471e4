/**
 * Cancel forwarding between replicas (docs/design/surface.md §9): a CancelRequest whose key is not local and
 * whose pid names another replica of the current peer set is sent on once, over TLS, with the hop
 * flag set. Never to an address outside the peer set, never a second hop, never to itself.
 */
import { isIP } from 'node:net';
import type { Logger } from '../../auth/types.js';
import { proxyV2LocalHeader } from '../protocol/proxy-header.js';
import type { CancelResult } from '../telemetry/observer.js';
import type { TagOwner } from './peer-set.js';
import type { CancelPeers } from '../session/cancel-peers.js';
import { decodeReplicaPid, encodeReplicaPid, issuedPid, markForwarded, maxSessionNumber } from './replica-pid.js';
import { randomInt } from 'node:crypto';
import { sendCancelRequest } from '../upstream/cancel.js';

/** What the router needs from the peer set. */
export interface PeerDirectory {
  readonly selfTag: number;
  isPeerAddress(address: string): boolean;
  ownerOf(tag: number): TagOwner;
}

/** Sends a 16-byte CancelRequest to a peer replica over TLS and waits for it to close (bounded). */
export type SendPeerCancelFn = (peer: { host: string; port: number }, pid: number, key: Buffer, timeoutMs: number, logger: Logger) => Promise<void>;

/** How forwarded cancels leave this replica. */
export interface PeerDialOptions {
  /** Start with a PROXY v2 LOCAL header (when `proxyProtocol.trustedSources` is set, docs/design/surface.md §9). */
  shouldSendProxyHeader: boolean;
  /** Source IP of the connection (the listen IP when it is a specific one), so the peer recognises it; used toward IP peers of its family. */
  localAddress?: string;
}

/**
 * The real peer cancel: SSLRequest, TLS (encrypted, the peer's certificate not verified: peers are
 * dialed by the addresses of the peer set, which usually are not in the certificate), CancelRequest.
 */
export function createSendPeerCancel(dial: PeerDialOptions): SendPeerCancelFn {
  return (peer, pid, key, timeoutMs, logger) =>
    sendCancelRequest({ host: peer.host, port: peer.port, tlsMode: 'require' }, pid, key, timeoutMs, logger, {
      allowPlaintext: false,
      ...(dial.shouldSendProxyHeader ? { preamble: proxyV2LocalHeader } : {}),
      ...(dial.localAddress !== undefined && isIP(dial.localAddress) === isIP(peer.host) ? { localAddress: dial.localAddress } : {}),
    });
}

/** Options of a PeerCancelRouter. */
export interface PeerCancelRouterOptions {
  peers: PeerDirectory;
  sendPeerCancel: SendPeerCancelFn;
  /** Wait for the peer to close after the cancel (default 5,000 ms). */
  timeoutMs?: number;
}

/** Admission and forwarding of cancels in a fleet; the CancelRegistry asks it about keys it does not hold. */
export class PeerCancelRouter implements CancelPeers {
  private readonly opts: PeerCancelRouterOptions;

  constructor(opts: PeerCancelRouterOptions) {
    this.opts = opts;
  }

  /** The tag this replica's pids carry. */
  get selfTag(): number {
    return this.opts.peers.selfTag;
  }

  /** A random free session number naming this replica, then a scan once the space is crowded (config caps live sessions well below it). */
  issuePid(isTaken: (pid: number) => boolean): number {
    const tag = this.selfTag;
    for (let i = 0; i < 64; i++) {
      const pid = encodeReplicaPid(tag, randomInt(1, maxSessionNumber + 1));
      if (!isTaken(pid)) return pid;
    }
    for (let n = 1; n <= maxSessionNumber; n++) if (!isTaken(encodeReplicaPid(tag, n))) return encodeReplicaPid(tag, n);
    throw new Error(`all ${maxSessionNumber} cancel-key session numbers are in use`);
  }

  /** True for a connection from another replica: its cancels are handled here only, and are not rate-limited per source again. */
  isFromPeer(sourceAddress: string): boolean {
    return this.opts.peers.isPeerAddress(sourceAddress);
  }

  /** The registry pid to look up, or undefined when a forwarded cancel (hop flag set) comes from outside the fleet. */
  localPid(pid: number, isFromPeer: boolean): number | undefined {
    const decoded = decodeReplicaPid(pid);
    if (decoded?.isForwarded === true && !isFromPeer) return undefined;
    return decoded === undefined ? pid : issuedPid(pid);
  }

  /** Handles a well-formed cancel whose key this replica does not hold: forwards it to its owner or drops it. */
  async route(pid: number, key: Buffer, isFromPeer: boolean, logger: Logger): Promise<CancelResult> {
    const drop = (reason: string): CancelResult => {
      logger.info({ event: 'cancel_not_forwarded', reason }, 'cancel request with unknown key dropped');
      return 'unknown_key';
    };
    if (isFromPeer) return drop('from_peer');
    const decoded = decodeReplicaPid(pid);
    if (decoded === undefined) return drop('not_a_replica_key');
    if (decoded.isForwarded) return drop('forwarded_from_outside_fleet');
    const owner = this.opts.peers.ownerOf(decoded.tag);
    switch (owner.kind) {
      case 'self':
        return drop('names_self');
      case 'unknown':
        return drop('not_in_peer_set');
      case 'ambiguous':
        logger.warn({ event: 'cancel_not_forwarded', reason: 'tag_collision', replicas: owner.endpoints }, 'cancel key names a tag several replicas share; not forwarded');
        return 'unknown_key';
      case 'peer':
        try {
          await this.opts.sendPeerCancel(owner, markForwarded(pid), key, this.opts.timeoutMs ?? 5000, logger);
          logger.info({ event: 'cancel_peer_forwarded', peer: owner.endpoint }, 'cancel request forwarded to the owning replica');
          return 'peer_forwarded';
        } catch (err) {
          logger.warn({ event: 'cancel_peer_forward_failed', peer: owner.endpoint, err: err instanceof Error ? err.message : String(err) }, 'forwarding a cancel request to its replica failed');
          return 'peer_forward_failed';
        }
    }
  }
}
