/**
 * The per-connection limits of both sides in one table: the proxy's client sessions (`rsproxy serve`) and the
 * tunnel's local sessions (`rsproxy tunnel`). The configurable ones are the defaults of `limits.*`; the tunnel has
 * no config file for them and uses the table as is. Where the tunnel differs, its entry says why.
 */

/** Limits of one client connection to the proxy; `loginTimeoutMs` and `maxStartupBytes` are the defaults of `limits.*`. */
export const sessionLimits = {
  /** Largest startup packet (SSLRequest, CancelRequest, StartupMessage) in bytes. */
  maxStartupBytes: 10_000,
  /** From accept to the end of login. */
  loginTimeoutMs: 10_000,
  /** Bytes a pipelining client may send after its login request and before the relay starts; held, then forwarded. */
  maxHeldClientBytes: 64 * 1024,
  /** How long a client that does not read its FATAL may keep the socket open. */
  closeLingerMs: 2000,
  /** How long a half-closed relay side may take to flush before it is destroyed. */
  relayLingerMs: 5000,
} as const;

/** Limits of one local connection of `rsproxy tunnel`: the proxy's, except where noted. */
export const tunnelLimits = {
  maxStartupBytes: sessionLimits.maxStartupBytes,
  maxHeldClientBytes: sessionLimits.maxHeldClientBytes,
  closeLingerMs: sessionLimits.closeLingerMs,
  relayLingerMs: sessionLimits.relayLingerMs,
  /**
   * Longer than the proxy's: it covers minting a token (an AWS credential refresh may take seconds) plus the proxy's
   * whole login, which the proxy bounds by its own loginTimeoutMs, so that the proxy's own error reaches the client first.
   */
  loginTimeoutMs: 30_000,
  /** Largest message from the proxy before AuthenticationOk (R, E, N, v: all small; the proxy sends nothing else then). */
  maxRemoteLoginMessageBytes: 64 * 1024,
  /** A CancelRequest forwarded to the proxy: connect, TLS and send. */
  cancelTimeoutMs: 5000,
  /** How long closing the tunnel lets its sessions say goodbye (57P01) before destroying them. */
  closeGraceMs: 3000,
} as const;
