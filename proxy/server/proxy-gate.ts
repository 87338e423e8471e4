/** The PROXY protocol gate of the accept loop: trusted sources must open with a header, which then names the client; anyone else must not. */
import type * as net from 'node:net';
import type { Logger } from '../../auth/types.js';
import type { CidrSet } from '../protocol/ip-address.js';
import type { SessionObserver } from '../telemetry/observer.js';
import { readProxyHeader, screenForProxyHeader } from './proxy-header-reader.js';
import type { ProxyGate, ProxyGateOutcome } from './proxy-header-reader.js';

/** How a connection the gate let through goes on: the client's address and port (from the header, else the TCP peer) and the balancer that named it. */
export type GatePassedFn = (socket: net.Socket, connectionId: string, clientAddress: string, acceptedAtMs: number, proxiedBy: string | undefined, clientPort?: number) => void;

/** Options of a ProxyHeaderGate. */
export interface ProxyHeaderGateOptions {
  trustedSources: CidrSet;
  /** How long a header may take to arrive (the login timeout). */
  timeoutMs: number;
  logger: Logger;
  observer: SessionObserver;
  /** Whether the server already holds as many sockets as it may (counting those waiting here). */
  isFull: (gated: number) => boolean;
  onPassed: GatePassedFn;
}

/** Holds connections until their PROXY header (or its absence) is settled; refusals close with no reply. */
export class ProxyHeaderGate {
  private readonly opts: ProxyHeaderGateOptions;
  private readonly gated = new Map<net.Socket, ProxyGate>();
  private readonly warnedAtMs = new Map<string, number>();

  constructor(opts: ProxyHeaderGateOptions) {
    this.opts = opts;
  }

  /** Connections waiting at the gate. */
  get size(): number {
    return this.gated.size;
  }

  /** Screens one accepted socket. */
  admit(socket: net.Socket, connectionId: string): void {
    const peer = socket.remoteAddress;
    // No address means the peer already reset the connection (a balancer's probe): trusting or refusing it is moot.
    if (peer === undefined) {
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    if (this.opts.isFull(this.gated.size)) {
      socket.on('error', () => {});
      socket.destroy();
      this.opts.logger.warn({ event: 'connection_refused', reason: 'hard_cap', connectionId }, 'connection closed at accept: too many sockets');
      return;
    }
    const acceptedAtMs = Date.now();
    const isTrusted = this.opts.trustedSources.has(peer);
    const onOutcome = (outcome: ProxyGateOutcome): void => {
      this.gated.delete(socket);
      if (!outcome.isAccepted) {
        this.refuse(socket, connectionId, peer, outcome.reason, isTrusted);
        return;
      }
      const header = outcome.header;
      if (header?.kind === 'proxied') this.opts.onPassed(socket, connectionId, header.source.address, acceptedAtMs, peer, header.source.port);
      else this.opts.onPassed(socket, connectionId, peer, acceptedAtMs, undefined);
    };
    const gate = isTrusted ? readProxyHeader(socket, this.opts.timeoutMs, onOutcome) : screenForProxyHeader(socket, this.opts.timeoutMs, onOutcome);
    if (!socket.destroyed) this.gated.set(socket, gate);
  }

  /** Drops every connection still waiting at the gate. */
  abortAll(): void {
    for (const gate of this.gated.values()) gate.abort();
  }

  /** Closes a connection the gate refused: no reply, the TCP peer's address logged (never the header's), a reason counted. */
  private refuse(socket: net.Socket, connectionId: string, peerAddress: string, reason: string, isTrusted: boolean): void {
    socket.on('error', () => {});
    socket.destroy();
    // An untrusted client that leaves before sending anything has not offered a header at all.
    if (!isTrusted && reason === 'closed') return;
    this.opts.observer.proxyHeaderRejected?.(reason);
    const now = Date.now();
    // At most one warning per reason every 10 s, so a broken or hostile balancer cannot flood the log.
    const isWarn = now - (this.warnedAtMs.get(reason) ?? 0) >= 10_000;
    if (isWarn) this.warnedAtMs.set(reason, now);
    this.opts.logger[isWarn ? 'warn' : 'debug'](
      { event: 'proxy_header_rejected', reason, connectionId, peerAddress, isTrustedPeer: isTrusted },
      isTrusted ? 'connection closed: no valid PROXY protocol header from a trusted load balancer' : 'connection closed: PROXY protocol header from an untrusted address',
    );
  }
}
