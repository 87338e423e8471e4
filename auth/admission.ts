/** The rule check of a login without its AWS calls: used by every login, and by revocation on reload (docs/design/surface.md §10). */
import { targetRef } from './endpoint-resolver.js';
import { AuthError, AuthErrorCode, isAuthError } from './errors.js';
import { createIdentityMapper } from './identity-mapper.js';
import type { AuthOptions, DatabaseOptions, Identity, IdentityMapper, MappedLogin } from './types.js';

/** A mapped login and the database it lives on. */
export interface AdmittedLogin {
  login: MappedLogin;
  db: DatabaseOptions;
}

/** Maps `identity` to a login on `database` as startup `user`, as a login does; throws AuthError (AUTH_NO_RULE…) when denied. */
export function admitLogin(mapper: IdentityMapper, databases: AuthOptions['databases'], identity: Identity, user: string, database: string): AdmittedLogin {
  const login = mapper.map(identity, user, database);
  const db = Object.hasOwn(databases, login.database) ? databases[login.database] : undefined;
  if (db === undefined) throw new AuthError(AuthErrorCode.NoRule, `rule ${login.ruleIndex} maps to unknown database "${login.database}"`);
  if (targetRef(db).kind === 'cluster' && login.dbUser === undefined) throw new AuthError(AuthErrorCode.NoRule, `rule ${login.ruleIndex} renders no dbUser for cluster database "${login.database}"`);
  return { login, db };
}

/** Answers whether a login would still be admitted by these rules. */
export type AdmissionCheck = (identity: Identity, user: string, database: string) => boolean;

/**
 * The admission check of `config`: the same mapping as a login, no AWS call. On a workgroup database the user
 * GetCredentials returns cannot be compared without calling AWS, so only the rule's literal `dbUser` is checked.
 */
export function createAdmissionCheck(config: Pick<AuthOptions, 'rules' | 'databases'>): AdmissionCheck {
  const mapper = createIdentityMapper({ rules: config.rules, databases: config.databases });
  return (identity, user, database) => {
    try {
      admitLogin(mapper, config.databases, identity, user, database);
      return true;
    } catch (err) {
      if (isAuthError(err)) return false;
      throw err;
    }
  };
}
