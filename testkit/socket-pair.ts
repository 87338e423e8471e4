/** A connected TCP pair on loopback, for tests of code that sits between two sockets. */
import * as net from 'node:net';

/** Two connected loopback sockets: [near, far]; the listener is closed once they are connected. */
export async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const near = net.connect(port, '127.0.0.1');
  const far = await accepted;
  await new Promise<void>((r) => (near.connecting ? near.once('connect', () => r()) : r()));
  server.close();
  return [near, far];
}
