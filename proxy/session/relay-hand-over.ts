/** The reusing relay's upstream side: the check-in tracker sees every byte both ways, and a clean upstream is handed over when its client leaves. */
import type { RelayCheckin, RelayLink } from './relay-options.js';

/** The listeners of a reusing relay, recorded on the upstream so a hand-over removes exactly them, and the hand-over itself. */
export class RelayHandOver {
  private readonly upstreamListeners: Array<[string, (...args: unknown[]) => void]> = [];
  private isDone = false;

  constructor(
    private readonly checkin: RelayCheckin,
    private readonly link: RelayLink,
  ) {}

  /** True when the upstream was handed over for reuse when the client left. */
  get isHandedOver(): boolean {
    return this.isDone;
  }

  /** Attaches the client's 'data' listener and every upstream listener; the tracker keeps the client's Terminate to itself. */
  attach(): void {
    const { link } = this;
    const { client, upstream } = link;
    const { tracker } = this.checkin;
    client.on('data', (chunk: Buffer) => {
      link.countFromClient(chunk.length);
      if (upstream.destroyed || link.isClosing() || this.isDone) return;
      const forward = tracker.feedFromClient(chunk);
      if (forward > 0 && !upstream.write(forward === chunk.length ? chunk : chunk.subarray(0, forward))) client.pause();
      link.afterChunk();
    });
    this.onUpstream('drain', () => client.resume());
    this.onUpstream('data', (chunk: Buffer) => {
      link.countFromUpstream(chunk.length);
      if (client.destroyed || link.isClosing()) return;
      tracker.feedFromUpstream(chunk);
      if (!client.write(chunk)) upstream.pause();
      link.afterChunk();
    });
    this.onUpstream('end', () => link.upstreamEnded());
    this.onUpstream('error', (err: Error) => link.upstreamFailed(err));
    this.onUpstream('close', () => link.upstreamClosed());
  }

  /**
   * Lets go of the upstream (its listeners removed, no Terminate sent) and offers it to the owner. When the owner
   * refuses it, the relay keeps it: only its close is still awaited, and its errors are swallowed.
   */
  handOver(): boolean {
    const { upstream } = this.link;
    for (const [event, fn] of this.upstreamListeners) upstream.removeListener(event, fn);
    this.upstreamListeners.length = 0;
    this.isDone = true;
    if (this.checkin.handOver(upstream)) return true;
    this.isDone = false;
    upstream.on('error', () => {});
    upstream.on('close', () => this.link.upstreamClosed());
    return false;
  }

  private onUpstream(event: string, fn: (...args: never[]) => void): void {
    const listener = fn as (...args: unknown[]) => void;
    this.link.upstream.on(event, listener);
    this.upstreamListeners.push([event, listener]);
  }
}
