/** Listening and closing for the admin room's HTTP servers (the proxy's and the tunnel's). */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running HTTP listener. */
export interface ListeningServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** Listens on host:port (port 0 = any free port); close() drops idle keep-alive connections too. */
export async function listenHttp(server: Server, host: string, port: number, keepAliveTimeoutMs: number): Promise<ListeningServer> {
  server.keepAliveTimeout = keepAliveTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    address: { host: addr.address, port: addr.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
