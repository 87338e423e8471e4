/**
 * A bare TLS-terminating Node relay, the reference point for rsproxy's relay cost: SSLRequest → 'S' → TLS on
 * both sides, then `socket.pipe` both ways. No authentication, no limits: a bench fixture, never a product path.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { sslRequest } from '../proxy/protocol/upstream.js';


/** A running bare relay. */
export interface NodePipe {
  port: number;
  close(): Promise<void>;
}

/** Reads exactly `n` bytes from a paused socket (the negotiation bytes), then pauses it again. */
function readExactly(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let have = 0;
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      have += chunk.length;
      if (have < n) return;
      socket.removeListener('data', onData);
      socket.removeListener('error', reject);
      socket.pause();
      const all = Buffer.concat(parts);
      if (all.length > n) socket.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.resume();
  });
}

async function dialTls(host: string, port: number, ca: string): Promise<tls.TLSSocket> {
  const raw = net.connect({ host, port, noDelay: true });
  await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
  raw.write(sslRequest);
  const answer = await readExactly(raw, 1);
  if (answer[0] !== 0x53) throw new Error('upstream refused TLS');
  const secure = tls.connect({ socket: raw, ca, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
  return secure;
}

/** Starts the bare relay on a free loopback port in front of a TLS PostgreSQL. */
export async function startNodePipe(opts: { upstreamHost: string; upstreamPort: number; cert: string; key: string; ca: string }): Promise<NodePipe> {
  const context = tls.createSecureContext({ cert: opts.cert, key: opts.key });
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true, pauseOnConnect: true }, (raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => raw.destroy());
    void (async () => {
      const request = await readExactly(raw, 8);
      if (!request.equals(sslRequest)) return raw.destroy();
      raw.write('S');
      const client = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
      const upstream = await dialTls(opts.upstreamHost, opts.upstreamPort, opts.ca);
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    })().catch(() => raw.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
