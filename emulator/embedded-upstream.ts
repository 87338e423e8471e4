/** The demo's embedded upstream database: PGlite behind a small TLS front that speaks SSLRequest. */
import net from 'node:net';
import tls from 'node:tls';

/** A running embedded upstream. */
export interface EmbeddedUpstream {
  host: string;
  port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options for the embedded upstream. */
export interface EmbeddedUpstreamOptions {
  certPem: string;
  keyPem: string;
  /** PGlite serialises queries; this only bounds how many sessions it multiplexes. */
  maxConnections?: number;
  /** Directory for PGlite's data; in memory when absent. */
  dataDir?: string;
}

const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/**
 * Starts PGlite (imported lazily, so only the demo pays for it) and a TLS front on 127.0.0.1.
 * PGlite's socket server answers SSLRequest with 'N'; the proxy never logs in upstream without TLS,
 * so the front answers 'S', terminates TLS and relays plaintext to PGlite on loopback.
 * PGlite checks no password: the demo's `--upstream postgres://…` mode is the real-password path.
 */
export async function startEmbeddedUpstream(opts: EmbeddedUpstreamOptions): Promise<EmbeddedUpstream> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = opts.dataDir === undefined ? await PGlite.create() : await PGlite.create(opts.dataDir);
  const inner = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: opts.maxConnections ?? 64 });
  await inner.start();
  const innerPort = Number(inner.getServerConn().split(':').pop());
  const secureContext = tls.createSecureContext({ cert: opts.certPem, key: opts.keyPem, minVersion: 'TLSv1.2' });
  const sockets = new Set<net.Socket>();

  const front = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => raw.destroy());
    raw.once('readable', function onReadable() {
      const head = raw.read(8) as Buffer | null;
      if (head === null) {
        raw.once('readable', onReadable);
        return;
      }
      if (!head.equals(sslRequest) || raw.readableLength > 0) {
        raw.destroy();
        return;
      }
      raw.write('S');
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext });
      secure.on('error', () => secure.destroy());
      const backend = net.connect(innerPort, '127.0.0.1');
      backend.setNoDelay(true);
      backend.on('error', () => secure.destroy());
      secure.on('close', () => backend.destroy());
      backend.on('close', () => secure.destroy());
      secure.pipe(backend);
      backend.pipe(secure);
    });
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(0, '127.0.0.1', () => resolve());
  });
  const address = front.address() as net.AddressInfo;

  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => front.close(() => resolve()));
    await inner.stop();
    await db.close();
  };
  return { host: '127.0.0.1', port: address.port, close, [Symbol.asyncDispose]: close };
}
