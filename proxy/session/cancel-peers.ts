/** The fleet as the cancel registry sees it: a port that proxy/fleet implements and the CLI wires in. */
import type { Logger } from '../../auth/types.js';
import type { CancelResult } from '../telemetry/observer.js';

/** Cancel keys across replicas: which pids this replica issues, and where a key held elsewhere goes. */
export interface CancelPeers {
  /** A pid naming this replica that `isTaken` rejects for no live session. */
  issuePid(isTaken: (pid: number) => boolean): number;
  /** Whether a connection from this address comes from a replica of the same fleet. */
  isFromPeer(sourceAddress: string): boolean;
  /** The local pid a key names, or undefined when it names another replica (or a second hop). */
  localPid(pid: number, isFromPeer: boolean): number | undefined;
  /** Forwards a cancel whose key is not local to the replica it names, at most once. */
  route(pid: number, key: Buffer, isFromPeer: boolean, logger: Logger): Promise<CancelResult>;
}

/** Per-source cancel rate limit as the registry uses it (proxy/server's SourceRateLimiter fits). */
export interface CancelRateLimiter {
  /** Takes one token for this source; isAllowed false when its bucket is empty. */
  take(sourceAddress: string): { isAllowed: boolean };
  /** Source addresses tracked now. */
  readonly trackedSources: number;
}
