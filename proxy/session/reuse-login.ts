/** Upstream session reuse at login: the reuse key from the admitted login, the pool lookup before credentials, and what a hit sends the client (docs/design/surface.md §11). */
import type { AdmittedLogin, AuthResult } from '../../auth/types.js';
import { readyForQuery } from '../protocol/backend.js';
import { reuseKey } from '../upstream/reuse-key.js';
import { targetId } from '../upstream/reuse-pool.js';
import type { PooledUpstream, ReusableLogin, UpstreamReusePort } from '../upstream/reuse-pool.js';
import type { UpstreamSession } from '../upstream/types.js';
import { upstreamParameters } from './startup-params.js';
import type { StartupParams } from './startup-params.js';

/** What a relayed session needs to give its upstream back: the pool, and the login facts a next client gets. */
export interface ReuseTicket {
  port: UpstreamReusePort;
  /** True when this session's upstream was handed on from a departed client. */
  isReused: boolean;
  login: ReusableLogin;
}

/** The reuse key of an admitted login with these startup parameters. */
export function reuseKeyOf(admitted: AdmittedLogin, params: StartupParams): string {
  const { target } = admitted;
  return reuseKey({
    principalArn: admitted.identity.canonicalArn,
    database: target.database,
    target,
    // A workgroup rule without a literal dbUser: the startup user names the database user GetCredentials returns.
    dbUser: admitted.dbUser ?? `startup:${params.user}`,
    dbGroups: admitted.dbGroups,
    ...(admitted.assumedRole === undefined
      ? {}
      : { assumedRole: { roleArn: admitted.assumedRole.roleArn, sessionTags: { sessionName: admitted.assumedRole.sessionName, dbGroups: admitted.dbGroups.join(',') } } }),
    startupParameters: upstreamParameters(params, target.engine),
  });
}

/** One login's use of the pool: the key and generation when it was admitted, and the session a hit took. */
export class ReuseAttempt {
  private readonly port: UpstreamReusePort;
  private readonly params: StartupParams;
  private readonly maxSessionSeconds: number;
  private key: string | undefined;
  private generation = 0;
  private pooled: PooledUpstream | undefined;
  private isDone = false;

  constructor(port: UpstreamReusePort, params: StartupParams, maxSessionSeconds: number) {
    this.port = port;
    this.params = params;
    this.maxSessionSeconds = maxSessionSeconds;
  }

  /** The authenticator's onAdmitted: true (skip the credentials) when an idle session of this key was taken. Only the first call looks. */
  async onAdmitted(admitted: AdmittedLogin): Promise<boolean> {
    if (this.isDone) return false;
    this.isDone = true;
    if (!this.port.isEnabledFor(admitted.target.database)) return false;
    this.key = reuseKeyOf(admitted, this.params);
    this.generation = this.port.generation;
    this.pooled = await this.port.checkOut(this.key);
    return this.pooled !== undefined;
  }

  /** The session a hit took (taken once). */
  takeHit(): PooledUpstream | undefined {
    const pooled = this.pooled;
    this.pooled = undefined;
    return pooled;
  }

  /** A hit as the relay start sees an upstream login: the first login's ParameterStatus set, no notices, ReadyForQuery 'I'. */
  hitLogin(pooled: PooledUpstream): { upstream: UpstreamSession; ticket: ReuseTicket } {
    const { socket, ...login } = pooled;
    return {
      upstream: { socket, parameterStatus: [...pooled.parameterStatus], notices: [], readyForQuery: readyIdle, backendKey: pooled.backendKey, leftover: Buffer.alloc(0) },
      ticket: { port: this.port, isReused: true, login },
    };
  }

  /** A hit taken but not used (the client left meanwhile): its socket is closed. */
  dropHit(): void {
    this.takeHit()?.socket.destroy();
  }

  /** The ticket of a fresh login (undefined when reuse was off for it), with its age bounds. */
  freshTicket(result: AuthResult, upstream: UpstreamSession, loginAtMs: number): ReuseTicket | undefined {
    if (this.key === undefined) return undefined;
    const sessionCapMs = this.maxSessionSeconds > 0 ? loginAtMs + this.maxSessionSeconds * 1000 : Number.POSITIVE_INFINITY;
    return {
      port: this.port,
      isReused: false,
      login: {
        parameterStatus: upstream.parameterStatus,
        backendKey: upstream.backendKey,
        loginUser: result.upstreamUser,
        target: result.target,
        info: { key: this.key, target: targetId(result.target), loginAtMs, hardExpiryMs: Math.min(result.expiresAtMs, sessionCapMs), generation: this.generation },
      },
    };
  }
}

const readyIdle = readyForQuery('I');
