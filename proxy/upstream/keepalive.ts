/** TCP keepalive on client and upstream sockets (`limits.tcpKeepAliveSeconds`), so idle or long-running sessions survive NLB and NAT idle timeouts. */
import type * as net from 'node:net';

/**
 * Turns TCP keepalive on with `seconds` of idle time before the first probe (0 = off). Works on a plain socket and on
 * a TLSSocket, also one wrapping an existing socket (`tls.connect({ socket })`): Node passes it to the TCP socket.
 */
export function applyKeepAlive(socket: Pick<net.Socket, 'setKeepAlive'>, seconds: number): void {
  if (seconds > 0) socket.setKeepAlive(true, seconds * 1000);
  else socket.setKeepAlive(false);
}
