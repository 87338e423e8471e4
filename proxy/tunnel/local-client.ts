/** The local client's end of one tunnel connection: its socket, plaintext or (after an accepted SSLRequest) TLS, and a bounded close. */
import * as tls from 'node:tls';
import type * as net from 'node:net';

/** What the local socket reports to the session that owns it. */
export interface LocalClientHandlers {
  onData(chunk: Buffer): void;
  onError(err: Error): void;
  /** Called once, when the socket (plain or TLS) closes. */
  onClose(): void;
}

/** The local socket a TunnelSession reads and writes: the accepted one, or the TLS socket wrapped around it. */
export class LocalClient {
  private readonly raw: net.Socket;
  private readonly handlers: LocalClientHandlers;
  private current: net.Socket;
  private isClosed = false;
  private readonly onData = (chunk: Buffer): void => this.handlers.onData(chunk);

  constructor(raw: net.Socket, handlers: LocalClientHandlers) {
    this.raw = raw;
    this.current = raw;
    this.handlers = handlers;
  }

  /** The socket to relay: the TLS one once TLS started. */
  get socket(): net.Socket {
    return this.current;
  }

  /** Starts reading the accepted socket. */
  start(): void {
    this.raw.setNoDelay(true);
    this.watch(this.raw);
  }

  /** Wraps the accepted socket in server-side TLS (the 'S' was already written); reads go through TLS from now on. */
  startTls(secureContext: tls.SecureContext): void {
    this.raw.removeListener('data', this.onData);
    this.raw.pause();
    this.current = new tls.TLSSocket(this.raw, { isServer: true, secureContext, requestCert: false });
    this.watch(this.current);
  }

  /** Writes `bytes` to the client. */
  write(bytes: Buffer): void {
    this.current.write(bytes);
  }

  /** Writes `bytes` unless the socket can no longer take them (a FATAL to a client that is already gone). */
  writeIfOpen(bytes: Buffer): void {
    if (!this.current.destroyed && this.current.writable) this.current.write(bytes);
  }

  /** Stops delivering data to the session (the relay reads from now on). */
  stopReading(): void {
    this.current.removeListener('data', this.onData);
  }

  /** Ends the socket, and destroys it after `lingerMs`: a peer that never reads must not keep it alive. */
  end(lingerMs: number): void {
    const socket = this.current;
    if (!socket.destroyed) socket.end();
    setTimeout(() => {
      socket.destroy();
      this.raw.destroy();
    }, lingerMs).unref();
  }

  /** Destroys the socket now. */
  destroy(): void {
    this.raw.destroy();
    this.current.destroy();
  }

  private watch(socket: net.Socket): void {
    socket.on('error', (err) => this.handlers.onError(err));
    socket.on('close', () => {
      if (this.isClosed) return;
      this.isClosed = true;
      this.handlers.onClose();
    });
    socket.on('data', this.onData);
  }
}
