/**
 * An emulated upstream login cost: a loopback TCP relay in front of an upstream PostgreSQL.
 *
 * What the figure emulates: the fixed cost of opening a fresh upstream session on Redshift (TCP + TLS + authentication
 * + session set-up on the leader node, hundreds of milliseconds) as one wait of `delayMs` per connection, between
 * accepting it and dialing the upstream. The relay cannot see inside the TLS it carries, so it does not try to
 * place the cost at individual login round trips: a new connection's first answer comes `delayMs` later than it
 * would, and nothing after that is delayed. A reused upstream session (no new connection) never pays it; every new
 * connection does, including a CancelRequest's.
 */
import * as net from 'node:net';

/** Options of startLoginDelayRelay. */
export interface LoginDelayRelayOptions {
  upstreamHost: string;
  upstreamPort: number;
  /** Added to every new connection before the upstream is dialed. */
  delayMs: number;
  /** Listen address (default 127.0.0.1); the port is chosen by the system. */
  host?: string;
}

/** A running relay. */
export interface LoginDelayRelay {
  host: string;
  port: number;
  /** Connections accepted so far. */
  readonly acceptedConnections: number;
  /** Stops listening and destroys every relayed connection. */
  close(): Promise<void>;
}

/** Starts the relay; resolves once it listens. */
export async function startLoginDelayRelay(opts: LoginDelayRelayOptions): Promise<LoginDelayRelay> {
  const host = opts.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let accepted = 0;
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // Either side failing ends both; nothing to report.
    s.on('error', () => {});
  };

  const server = net.createServer({ pauseOnConnect: true }, (inbound) => {
    accepted++;
    track(inbound);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (inbound.destroyed) return;
      const outbound = net.connect({ host: opts.upstreamHost, port: opts.upstreamPort });
      track(outbound);
      outbound.setNoDelay(true);
      inbound.setNoDelay(true);
      outbound.on('close', () => inbound.destroy());
      inbound.on('close', () => outbound.destroy());
      outbound.on('connect', () => {
        inbound.pipe(outbound);
        outbound.pipe(inbound);
        inbound.resume();
      });
    }, opts.delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });

  return {
    host,
    port: (server.address() as net.AddressInfo).port,
    get acceptedConnections() {
      return accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
