/** auth/'s public entry: the Authenticator factory, and its AWS-backed composition for `rsproxy serve`. */
import { createAssumeRoleApi } from './assume-role.js';
import { createAuthenticator } from './authenticator.js';
import { createIdentityMapper } from './identity-mapper.js';
import { createRedshiftApi } from './redshift-minter.js';
import { createServerlessApi } from './serverless-minter.js';
import { createStsVerifier } from './sts-verifier.js';
import { nullObserver, systemClock, type AuthObserver, type AuthOptions, type Authenticator, type Clock, type IdentityMapper, type Logger } from './types.js';

/** The Authenticator factory over injected ports, and its cache-key helpers. */
export { createAuthenticator, credentialKeyFor, isKeyProducible, matchesReturnedUser } from './authenticator.js';
/** The rule check of a login without AWS calls (revocation on reload). */
export { createAdmissionCheck } from './admission.js';
export type { AdmissionCheck } from './admission.js';
/** Option and port types of the Authenticator and of the AWS APIs it calls. */
export type { AuthenticatorOptions, ReloadableAuthenticator } from './authenticator.js';
export type { AssumeRoleApi, AssumeRoleRequest, RoleCredentials } from './assume-role.js';
export type { AwsCallOptions, AwsCredentials } from './aws-errors.js';
export type { ClusterCredentialsRequest, Endpoint, RedshiftApi } from './redshift-minter.js';
export type { ServerlessApi, WorkgroupCredentialsRequest } from './serverless-minter.js';
/** `rsproxy explain` and `rsproxy policy`: the login's own rule evaluation and the IAM policy it needs (docs/design/surface.md §10). */
export { ExplainInputError, explainLogin, identityFromArn } from './explain.js';
export type { Explanation, ExplainRequest, ExplainedRule, ExplainTarget } from './explain.js';
export { buildIamPolicy, formatPolicy, usableRuleDatabases, workgroupKey } from './iam-policy.js';
export type { IamPolicyOptions, IamPolicyResult, PolicyDocument, PolicyStatement } from './iam-policy.js';
export type { LoginCall, Permission } from './login-calls.js';
export { createWorkgroupIdLookup } from './serverless-minter.js';

/** Environment the AWS composition reads (endpoint overrides); the SDK also reads process.env itself. */
export type AuthEnv = Readonly<Record<string, string | undefined>>;

/** The Authenticator `rsproxy serve` runs: reloadable with a new config, closable at shutdown. */
export interface AwsAuthenticator extends Authenticator {
  /** Swaps rules and databases (identity options change only on restart); prunes the credential cache. Builds the mapper when none is given. */
  reload(config: AuthOptions, mapper?: IdentityMapper): void;
  /** Closes the STS keep-alive sockets, the SDK clients and the caches' purge timers. */
  close(): void;
}

function envValue(env: AuthEnv, ...names: string[]): string | undefined {
  for (const name of names) {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/** Builds the real Authenticator: STS verifier, rule mapper, SDK-backed Redshift / Serverless / STS AssumeRole APIs. */
export function createAwsAuthenticator(
  config: AuthOptions,
  deps: { logger: Logger; observer?: AuthObserver; clock?: Clock; env?: AuthEnv },
): AwsAuthenticator {
  const env = deps.env ?? process.env;
  const logger = deps.logger;
  const observer = deps.observer ?? nullObserver;
  const clock = deps.clock ?? systemClock;
  const endpointOf = (service: string): { endpoint?: string } => {
    const url = envValue(env, `AWS_ENDPOINT_URL_${service}`, 'AWS_ENDPOINT_URL');
    return url === undefined ? {} : { endpoint: url };
  };
  const stsEndpoint = envValue(env, 'AWS_ENDPOINT_URL_STS', 'AWS_ENDPOINT_URL');
  const verifier = createStsVerifier({ identity: config.identity, clock, logger, observer, ...(stsEndpoint === undefined ? {} : { endpointUrl: stsEndpoint }) });
  const redshift = createRedshiftApi({ logger, observer, ...endpointOf('REDSHIFT') });
  const serverless = createServerlessApi({ logger, observer, ...endpointOf('REDSHIFT_SERVERLESS') });
  const assumeRole = createAssumeRoleApi({ logger, observer, ...endpointOf('STS') });
  const mapperFor = (c: AuthOptions) => createIdentityMapper({ rules: c.rules, databases: c.databases });
  const auth = createAuthenticator({ config, verifier, mapper: mapperFor(config), redshift, serverless, assumeRole, clock, logger, observer });
  return {
    authenticate: (req) => auth.authenticate(req),
    reload(next, mapper) {
      auth.reload(next, mapper ?? mapperFor(next));
    },
    close() {
      auth.close();
      verifier.close();
      redshift.destroy();
      serverless.destroy();
      assumeRole.destroy();
    },
  };
}
