/** Reaching the proxy for one local connection: the token minted and the TLS connection dialed, together. */
import type * as net from 'node:net';
import { tunnelRemoteFailed } from '../errors/proxy-error.js';
import type { DialOptions } from '../upstream/dial.js';
import { dialFailureReason } from './tunnel-startup.js';
import type { TunnelDialFn, TunnelRemote, TunnelTokenSource } from './tunnel-startup.js';

/** The proxy reached: its socket (paused, TLS verified) and the token for its password request. */
export interface ReachedRemote {
  socket: net.Socket;
  token: string;
  isTokenReused: boolean;
}

/**
 * Mints the token while dialing. Rejects with the token source's error (AwsCredentialsError) when it fails, which
 * wins over a dial failure as it is the one the user can fix, else with 08006 naming host:port and the reason.
 */
export async function reachRemote(remote: TunnelRemote, tokens: TunnelTokenSource, dial: TunnelDialFn, dialOptions: DialOptions): Promise<ReachedRemote> {
  const dialing = dial(remote, dialOptions);
  dialing.catch(() => {});
  let issued: { token: string; isReused: boolean };
  try {
    issued = await tokens.token();
  } catch (err) {
    void dialing.then((d) => d.socket.destroy(), () => {});
    throw err;
  }
  try {
    const { socket } = await dialing;
    return { socket, token: issued.token, isTokenReused: issued.isReused };
  } catch (err) {
    throw tunnelRemoteFailed(`${remote.host}:${remote.port}`, dialFailureReason(err), { cause: err });
  }
}
