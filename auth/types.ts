/** Shapes shared by auth/ and its callers: config-shaped options, the verified identity, and the ports. */

/** AWS partitions the contract supports. */
export type Partition = 'aws' | 'aws-cn' | 'aws-us-gov';

/** `identity.*` config keys (docs/design/surface.md §3). */
export interface IdentityOptions {
  audience: string;
  partition: Partition;
  stsRegions: readonly string[];
  allowedAccounts: readonly string[];
  maxTokenAgeSeconds: number;
  clockSkewSeconds: number;
  allowRootAndFederated: boolean;
  acceptEksTokens: boolean;
}

/** Upstream TLS verification mode (`databases.<db>.upstreamTls.mode`). */
export type UpstreamTlsMode = 'verify-full' | 'verify-ca' | 'require';

/** One `databases.<db>` entry (docs/design/surface.md §3). Exactly one of cluster / workgroup is set. */
export interface DatabaseOptions {
  cluster?: string;
  workgroup?: string;
  host?: string;
  port?: number;
  region: string;
  engine: 'redshift' | 'postgres';
  dbName: string;
  upstreamTls: { mode: UpstreamTlsMode; caFile?: string };
  /** Upstream session reuse for this database (overrides `reuse.enabled`); auth/ does not read it. */
  reuse?: boolean;
}

/** One `rules[]` entry (docs/design/surface.md §3). */
export interface RuleOptions {
  principal: string;
  dbUser?: string;
  dbGroups: readonly string[];
  databases: readonly string[];
  autoCreate: boolean;
  trustSessionName: boolean;
  assumeRole?: string;
}

/** `credentials.*` config keys. */
export interface CredentialOptions {
  durationSeconds: number;
  refreshBeforeSeconds: number;
}

/** The parts of the config that auth/ reads. */
export interface AuthOptions {
  identity: IdentityOptions;
  databases: Readonly<Record<string, DatabaseOptions>>;
  rules: readonly RuleOptions[];
  credentials: CredentialOptions;
}

/** Principal kinds STS can report. */
export type PrincipalType = 'assumed-role' | 'user' | 'root' | 'federated-user';

/** A verified AWS identity (docs/design/token.md §9). Never holds a token or signature. */
export interface Identity {
  partition: Partition;
  accountId: string;
  /** Canonical principal ARN: role ARN for assumed roles, else the STS ARN. */
  canonicalArn: string;
  /** The raw ARN STS returned. */
  arn: string;
  principalType: PrincipalType;
  userId: string;
  roleName?: string;
  sessionName?: string;
  userName?: string;
  stsRequestId?: string;
  accessKeyId: string;
  stsRegion: string;
}

/** A time source; tests pass a fake. */
export interface Clock {
  nowMs(): number;
}

/** The real wall clock. */
export const systemClock: Clock = { nowMs: () => Date.now() };

/** Where and how the proxy logs in upstream. */
export interface UpstreamTarget {
  /** Key of `databases` the client asked for. */
  database: string;
  host: string;
  port: number;
  dbName: string;
  engine: 'redshift' | 'postgres';
  tlsMode: UpstreamTlsMode;
  caFile?: string;
}

/** What the session asks the Authenticator (all from the client's startup + password). */
export interface AuthRequest {
  user: string;
  database: string;
  password: string;
  connectionId: string;
  /** Absolute epoch ms by which the login must finish. */
  deadlineMs: number;
  /** Called once the token is verified (STS or its cache), before the credentials stage: lets a timeout name the stage. */
  onTokenVerified?: () => void;
  /**
   * Called once the login is verified and admitted and its endpoint known, before credentials are fetched. Resolving
   * true skips the credentials (the caller already holds a logged-in upstream session for this login): the result
   * then has `isCredentialless` set and no password, and no AWS call for credentials was made.
   */
  onAdmitted?: (admitted: AdmittedLogin) => Promise<boolean>;
}

/** A verified and admitted login before its credentials: what decides which upstream sessions it may share. */
export interface AdmittedLogin {
  identity: Identity;
  target: UpstreamTarget;
  /** The mapped database user (cluster rules); undefined on a workgroup rule without a literal dbUser. */
  dbUser?: string;
  /** The rule's dbGroups, sorted. */
  dbGroups: readonly string[];
  /** With `assumeRole`: the role and the AssumeRole session name (the groups travel as a session tag). */
  assumedRole?: { roleArn: string; sessionName: string };
}

/** Timings of one authentication, for the login log line. */
export interface AuthTimings {
  stsMs?: number;
  mintMs?: number;
}

/** Temporary upstream credentials and where to use them. */
export interface AuthResult {
  /** User to send upstream verbatim (e.g. `IAMA:alice`). */
  upstreamUser: string;
  upstreamPassword: string;
  target: UpstreamTarget;
  /** Expiration of the password, epoch ms. */
  expiresAtMs: number;
  /** For logs: canonical ARN and the mapped database user. */
  identity?: Identity;
  timings: AuthTimings;
  /**
   * The upstream refused these credentials: drop them from the cache. Returns true when one retry with
   * fresh credentials can help (they were served from the cache); false when they were fetched for this
   * very login, so a retry would only cost another AWS call (e.g. the database user does not exist).
   */
  invalidate(): boolean;
  /** Forgets the discovered endpoint after an upstream connect, TLS or timeout failure (docs/design/aws.md §6). */
  forgetEndpoint(): void;
  /** The matched rule's autoCreate, for the operator hint when the upstream refuses the user. */
  autoCreate: boolean;
  /** The matched rule's dbGroups (the audit trail's `dbGroups`); absent from test authenticators. */
  dbGroups?: readonly string[];
  /** True when `onAdmitted` resolved true: no credentials were fetched (upstreamUser and upstreamPassword are empty). */
  isCredentialless?: boolean;
}

/** The port the session calls: (user, database, password) → upstream credentials. Throws AuthError. */
export interface Authenticator {
  authenticate(req: AuthRequest): Promise<AuthResult>;
}

/** Structured logger (pino-compatible). Records never carry tokens, passwords or signatures. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: object): Logger;
}

/** A logger that drops everything (unit tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

/** Observability sink for auth/ (metrics subscribe to it; labels are closed sets). */
export interface AuthObserver {
  /** result: ok | rejected | invalid_response | throttled | unavailable */
  stsRequest(result: string, durationSeconds: number): void;
  /** api: GetClusterCredentials | GetCredentials | DescribeClusters | GetWorkgroup | AssumeRole; result: ok | throttled | unavailable | failed */
  credentialRequest(api: string, result: string): void;
  /** result: hit | miss | refresh | stale */
  credentialCache(result: 'hit' | 'miss' | 'refresh' | 'stale'): void;
}

/** An observer that records nothing. */
export const nullObserver: AuthObserver = {
  stsRequest() {},
  credentialRequest() {},
  credentialCache() {},
};

/** Verifies a client password as an IAM token (docs/design/token.md §4–9). Throws AuthError. */
export interface TokenVerifier {
  verify(token: string, deadlineMs: number): Promise<Identity>;
}

/** What a rule grants one login (docs/design/token.md §8). */
export interface MappedLogin {
  /** Index of the matching rule in `rules`. */
  ruleIndex: number;
  /** Key of `databases`. */
  database: string;
  /**
   * Rendered database user (cluster rules; equals the startup user minus `IAM:`/`IAMA:`). On a workgroup
   * rule: the rule's literal `dbUser` as-is, or undefined without one; the credentials layer must then
   * compare the startup user with the user GetCredentials returns (docs/design/surface.md §3).
   */
  dbUser?: string;
  dbGroups: readonly string[];
  autoCreate: boolean;
  assumeRole?: string;
}

/** Maps a verified identity + startup user/database to a login, deny by default. Throws AuthError. */
export interface IdentityMapper {
  map(identity: Identity, user: string, database: string): MappedLogin;
}

/** Temporary database credentials as returned by the AWS APIs. */
export interface DbCredentials {
  dbUser: string;
  dbPassword: string;
  expiresAtMs: number;
}
