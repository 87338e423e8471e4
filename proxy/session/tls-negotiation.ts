/** The pre-startup part of a client connection: plaintext packets, SSLRequest / GSSENCRequest / direct TLS, CancelRequest, and the startup packet (docs/design/wire-protocol.md §2–§5, §12). */
import * as tls from 'node:tls';
import type * as net from 'node:net';
import type { Logger } from '../../auth/types.js';
import { protocolViolation } from '../errors/proxy-error.js';
import { TlsHandshakeByte } from '../protocol/codes.js';
import { decodeStartupPacket } from '../protocol/frontend.js';
import type { CancelRequest, StartupMessage, StartupPacket } from '../protocol/frontend.js';
import { StartupFramer } from '../protocol/startup-framer.js';
import type { CancelRegistry } from './cancel-registry.js';
import type { Phase, SessionEvent } from './state.js';

/** What the negotiation needs from the session that owns it. */
export interface NegotiationHost {
  phase(): Phase;
  dispatch(event: SessionEvent): void;
  fail(err: unknown): void;
  /** A StartupMessage arrived inside TLS; `rest` holds the bytes that followed it. */
  onStartupMessage(packet: StartupMessage, rest: Buffer): void;
  /** The TLS socket that now speaks to the client was created (handshake not yet done). */
  onTlsSocket(secure: tls.TLSSocket): void;
  /** The TLS handshake is done and the session still waits for its startup packet: route decrypted data. */
  onTlsReady(secure: tls.TLSSocket): void;
}

/** Options of a TlsNegotiation. */
export interface TlsNegotiationOptions {
  /** The accepted TCP socket. */
  socket: net.Socket;
  /** The client's address (after PROXY protocol); the cancel rate limit counts per this source. */
  clientAddress?: string;
  /** The connection came through a balancer's PROXY header, so it is never another replica's (whatever address the header names). */
  isProxied?: boolean;
  secureContext: tls.SecureContext;
  maxStartupBytes: number;
  cancelRegistry: CancelRegistry;
  logger: Logger;
  host: NegotiationHost;
}

/** Reads length-prefixed startup packets until a StartupMessage inside TLS, upgrading the socket to TLS on the way. */
export class TlsNegotiation {
  private readonly opts: TlsNegotiationOptions;
  private readonly host: NegotiationHost;
  private readonly framer: StartupFramer;
  private pendingCancel: CancelRequest | undefined;
  private readonly onPlainData = (chunk: Buffer): void => this.handlePlainData(chunk);

  constructor(opts: TlsNegotiationOptions) {
    this.opts = opts;
    this.host = opts.host;
    this.framer = new StartupFramer({ maxStartupBytes: opts.maxStartupBytes });
  }

  /** Starts reading the plaintext socket. */
  start(): void {
    this.opts.socket.on('data', this.onPlainData);
  }

  /** Feeds decrypted bytes read while the session awaits its startup packet inside TLS. */
  feed(chunk: Buffer): void {
    try {
      this.framer.push(chunk);
      for (;;) {
        const name = this.host.phase().name;
        if (name !== 'AwaitingInitial' && name !== 'AwaitingStartupInTls') return;
        const packet = this.framer.next();
        if (packet === undefined) return;
        this.onPacket(decodeStartupPacket(packet));
      }
    } catch (err) {
      this.host.fail(err);
    }
  }

  /** Verifies and forwards the CancelRequest that was read (the session closes the socket afterwards either way). */
  async handleCancel(): Promise<void> {
    const req = this.pendingCancel;
    if (req === undefined) return;
    const source = this.opts.clientAddress ?? this.opts.socket.remoteAddress ?? 'unknown';
    const result = await this.opts.cancelRegistry.handle(req.pid, req.key, req.packetBytes, source, this.opts.logger, this.opts.isProxied ?? false);
    this.opts.logger.debug({ event: 'cancel_request', result }, 'cancel request handled');
  }

  /** Wraps the raw socket in a server-side TLSSocket (after 'S', or on a direct-TLS first byte). */
  startTls(isDirect: boolean): void {
    const secure = new tls.TLSSocket(this.opts.socket, {
      isServer: true,
      secureContext: this.opts.secureContext,
      ALPNProtocols: ['postgresql'],
      requestCert: false,
    });
    this.host.onTlsSocket(secure);
    secure.once('secure', () => {
      this.host.dispatch({ type: 'TlsReady', hasAlpnPostgresql: secure.alpnProtocol === 'postgresql' });
      if (this.host.phase().name === 'AwaitingStartupInTls') this.host.onTlsReady(secure);
    });
    this.opts.logger.debug({ event: 'tls_start', direct: isDirect }, 'starting TLS');
  }

  private handlePlainData(chunk: Buffer): void {
    const phase = this.host.phase();
    if (phase.name === 'AwaitingInitial' && this.framer.bufferedBytes === 0 && chunk[0] === TlsHandshakeByte && !phase.hasRefusedGssEnc) {
      this.stopPlainReading();
      this.opts.socket.unshift(chunk);
      this.host.dispatch({ type: 'TlsRecord' });
      return;
    }
    this.feed(chunk);
  }

  private stopPlainReading(): void {
    const raw = this.opts.socket;
    raw.removeListener('data', this.onPlainData);
    raw.pause();
  }

  private onPacket(packet: StartupPacket): void {
    const host = this.host;
    switch (packet.kind) {
      case 'SSLRequest':
        if (host.phase().name === 'AwaitingInitial') {
          // CVE-2021-23214: nothing after the SSLRequest may be buffered when 'S' is written.
          this.stopPlainReading();
          if (this.framer.bufferedBytes > 0 || this.opts.socket.readableLength > 0) {
            host.dispatch({ type: 'Fail', error: protocolViolation('received unencrypted data after SSL request') });
            return;
          }
        }
        host.dispatch({ type: 'SSLRequest' });
        return;
      case 'GSSENCRequest':
        host.dispatch({ type: 'GSSENCRequest' });
        return;
      case 'CancelRequest':
        this.pendingCancel = packet;
        host.dispatch({ type: 'CancelRequest' });
        return;
      case 'UnsupportedProtocol':
        host.dispatch({ type: 'UnsupportedProtocol', majorVersion: packet.majorVersion, minorVersion: packet.minorVersion });
        return;
      case 'StartupMessage':
        if (host.phase().name === 'AwaitingInitial') {
          host.dispatch({ type: 'StartupMessage', shouldNegotiate: false });
          return;
        }
        host.onStartupMessage(packet, this.framer.takeLeftover());
        return;
    }
  }
}
