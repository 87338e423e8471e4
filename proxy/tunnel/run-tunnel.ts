/**
 * Composition root of one `rsproxy tunnel`: the AWS credential source (checked at start) → the token reuse cache →
 * the local listener. Everything lives in the returned handle, so several tunnels can run in one process.
 */
import { createCredentialSource, mintToken } from '../../auth/token-mint.js';
import type { Logger } from '../../auth/types.js';
import { createTokenReuseCache, defaultTokenReuseSeconds } from './token-reuse.js';
import { startTunnelListener } from './tunnel-listener.js';
import type { TunnelListenAddress } from './tunnel-listener.js';
import type { TunnelDialFn, TunnelOverrides, TunnelRemote, TunnelTokenSource } from './tunnel-startup.js';

/** Where the tunnel's tokens come from: the proxy's audience and region, signed with an AWS profile's credentials. */
export interface TunnelSigning {
  /** The proxy's `identity.audience`. */
  audience: string;
  region: string;
  /** AWS profile; absent = the default credential chain. */
  profile?: string;
  /** How long one token serves new connections (default 60 s; 0 = a fresh token for each). */
  reuseSeconds?: number;
}

/** Default TCP keepalive idle time on the tunnel's sockets to the proxy. */
export const defaultTunnelKeepAliveSeconds = 60;

/** Options of startTunnel. */
export interface TunnelOptions {
  listen: TunnelListenAddress;
  /** The proxy, and how its certificate is checked. */
  remote: TunnelRemote;
  /** `--user` / `--dbname`: replace what local clients send. */
  overrides?: TunnelOverrides;
  /** Signs tokens with the user's AWS credentials; ignored when `tokens` is given. */
  signing?: TunnelSigning;
  /** A token source instead of `signing` (tests). */
  tokens?: TunnelTokenSource;
  /** `--local-tls`: the certificate and key served to local clients. */
  localTls?: { certPem: string; keyPem: string };
  /** One line per connection and per failure, each with its `connectionId`; never a token. */
  logger: Logger;
  /** Dials the proxy (default: verified TLS; tests inject a fake). */
  dial?: TunnelDialFn;
  /** Forwards a CancelRequest packet (default: over a new TLS connection to the proxy). */
  sendCancel?: (packet: Buffer) => Promise<void>;
  /** How long close() lets sessions say goodbye (default tunnelLimits.closeGraceMs). */
  closeGraceMs?: number;
  /** TCP keepalive idle seconds on each socket to the proxy, below an NLB's or NAT gateway's 350 s idle timeout (default 60; 0 = off). */
  tcpKeepAliveSeconds?: number;
}

/** A running tunnel. */
export interface TunnelHandle {
  /** What was asked for. */
  readonly listen: TunnelListenAddress;
  /** `127.0.0.1:5439`, `[::1]:5439` or the socket path. */
  readonly address: string;
  /** The TCP port bound (the real one when 0 was asked), or the socket's port number. */
  readonly port: number;
  readonly remote: TunnelRemote;
  /** Live local connections. */
  readonly sessionCount: number;
  /** Resolves once the AWS credentials resolve now (cheap: expiring ones are cached); rejects with AwsCredentialsError. */
  checkCredentials(): Promise<void>;
  /** Stops listening, ends every session (57P01 where the stream allows), waits for them (bounded). */
  close(): Promise<void>;
}

/** The local address could not be listened on (taken, no such directory, a live socket file, an unreadable CA file). */
export class TunnelListenError extends Error {
  override readonly name = 'TunnelListenError';
}

/** Where `listen` points, as a user wrote it. */
export function listenTarget(listen: TunnelListenAddress): string {
  return listen.kind === 'unix' ? listen.dir : `${listen.host}:${listen.port}`;
}

async function signingTokenSource(signing: TunnelSigning): Promise<{ tokens: TunnelTokenSource; checkCredentials: () => Promise<void> }> {
  const { audience, region, profile, reuseSeconds = defaultTokenReuseSeconds } = signing;
  const credentials = createCredentialSource(profile === undefined ? {} : { profile });
  // Unusable credentials fail the start (AwsCredentialsError), not the first connection.
  await credentials();
  return {
    tokens: createTokenReuseCache({ reuseSeconds, mint: async () => mintToken({ audience, region, credentials: await credentials() }) }),
    checkCredentials: async () => void (await credentials()),
  };
}

/** Starts one tunnel; rejects with AwsCredentialsError (credentials unusable) or TunnelListenError. */
export async function startTunnel(opts: TunnelOptions): Promise<TunnelHandle> {
  const { listen, remote } = opts;
  let tokens = opts.tokens;
  let checkCredentials = async (): Promise<void> => {};
  if (tokens === undefined) {
    if (opts.signing === undefined) throw new TypeError('startTunnel needs signing or tokens');
    ({ tokens, checkCredentials } = await signingTokenSource(opts.signing));
  }
  let listener: Awaited<ReturnType<typeof startTunnelListener>>;
  try {
    listener = await startTunnelListener({
      listen,
      remote,
      overrides: opts.overrides ?? {},
      tokens,
      logger: opts.logger,
      ...(opts.localTls === undefined ? {} : { localTls: opts.localTls }),
      ...(opts.dial === undefined ? {} : { dial: opts.dial }),
      ...(opts.sendCancel === undefined ? {} : { sendCancel: opts.sendCancel }),
      ...(opts.closeGraceMs === undefined ? {} : { closeGraceMs: opts.closeGraceMs }),
      keepAliveSeconds: opts.tcpKeepAliveSeconds ?? defaultTunnelKeepAliveSeconds,
    });
  } catch (err) {
    throw new TunnelListenError(`cannot listen on ${listenTarget(listen)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return {
    listen,
    address: listener.address,
    port: listener.port,
    remote,
    get sessionCount() {
      return listener.sessionCount;
    },
    checkCredentials,
    close: () => listener.close(),
  };
}
