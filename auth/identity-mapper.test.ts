import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthErrorCode, type AuthError } from './errors.js';
import { createIdentityMapper, principalMatches, renderTemplate, stripUserAlias, validatePrincipalPattern } from './identity-mapper.js';
import type { DatabaseOptions, Identity, RuleOptions } from './types.js';
import { aliceIdentity } from '../testkit/auth-fixtures.js';
import { identityFromArn } from './explain.js';
import { tableDatabases, tablePrincipal, tableRows, tableRules } from '../testkit/auth-rule-table.js';

const cluster: DatabaseOptions = { cluster: 'c1', region: 'eu-west-1', engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'verify-full' } };
const workgroup: DatabaseOptions = { workgroup: 'wg', region: 'eu-west-1', engine: 'redshift', dbName: 'lake', upstreamTls: { mode: 'verify-full' } };
const databases = { analytics: cluster, lake: workgroup, other: cluster };
const rule = (r: Partial<RuleOptions> & { principal: string }): RuleOptions => ({ dbGroups: [], databases: ['analytics'], autoCreate: false, trustSessionName: false, ...r });
const alice: Identity = aliceIdentity;
const code = (c: string) => (err: AuthError) => err.code === c;

test('first match wins; alias prefixes accepted', () => {
  const m = createIdentityMapper({
    rules: [
      rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: '{sessionName}', trustSessionName: true, dbGroups: ['analysts'], autoCreate: true }),
      rule({ principal: 'arn:aws:iam::123456789012:role/*', dbUser: '{sessionName}', trustSessionName: true }),
    ],
    databases,
  });
  const login = m.map(alice, 'alice', 'analytics');
  assert.deepEqual(login, { ruleIndex: 0, database: 'analytics', dbUser: 'alice', dbGroups: ['analysts'], autoCreate: true });
  assert.equal(m.map(alice, 'IAMA:alice', 'analytics').dbUser, 'alice');
  assert.equal(m.map(alice, 'IAM:alice', 'analytics').dbUser, 'alice');
  assert.throws(() => m.map(alice, 'IAMR:alice', 'analytics'), code(AuthErrorCode.NoRule));
});

test('case 33: the startup user never overrides the rendered dbUser', () => {
  const m = createIdentityMapper({ rules: [rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: '{sessionName}', trustSessionName: true })], databases });
  assert.throws(() => m.map(alice, 'admin', 'analytics'), code(AuthErrorCode.NoRule));
  assert.throws(() => m.map(alice, 'IAM:admin', 'analytics'), code(AuthErrorCode.NoRule));
});

test('case 34: rendered names that break the rules → db_name_rules', () => {
  const m = createIdentityMapper({ rules: [rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: '{sessionName}', trustSessionName: true })], databases });
  for (const session of ['a=b', '1abc', 'PUBLIC', 'x'.repeat(65)]) {
    assert.throws(() => m.map({ ...alice, sessionName: session }, session, 'analytics'), code(AuthErrorCode.DbNameInvalid), session);
  }
  const g = createIdentityMapper({ rules: [rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: 'alice', dbGroups: ['Analysts'] })], databases });
  assert.throws(() => g.map(alice, 'alice', 'analytics'), code(AuthErrorCode.DbNameInvalid));
});

test('case 35: database not configured or not allowed by the rule → no_rule', () => {
  const m = createIdentityMapper({ rules: [rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: 'alice' })], databases });
  assert.throws(() => m.map(alice, 'alice', 'nope'), code(AuthErrorCode.NoRule));
  assert.throws(() => m.map(alice, 'alice', 'other'), code(AuthErrorCode.NoRule));
  assert.throws(() => m.map(alice, 'alice', 'constructor'), code(AuthErrorCode.NoRule));
  const star = createIdentityMapper({ rules: [rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: 'alice', databases: ['*'] })], databases });
  assert.equal(star.map(alice, 'alice', 'other').database, 'other');
});

test('templates: sessionName needs trustSessionName; missing variables make the rule not match', () => {
  const untrusted = createIdentityMapper({ rules: [rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: '{sessionName}' })], databases });
  assert.throws(() => untrusted.map(alice, 'alice', 'analytics'), code(AuthErrorCode.NoRule));
  const byUser = createIdentityMapper({
    rules: [rule({ principal: 'arn:aws:iam::123456789012:*', dbUser: '{userName}' }), rule({ principal: 'arn:aws:iam::123456789012:*', dbUser: 'r_{roleName}' })],
    databases,
  });
  assert.equal(byUser.map(alice, 'r_Analyst', 'analytics').ruleIndex, 1);
  const bob: Identity = { ...alice, canonicalArn: 'arn:aws:iam::123456789012:user/team/bob', arn: 'arn:aws:iam::123456789012:user/team/bob', principalType: 'user', userName: 'bob', userId: 'AIDAX' };
  delete bob.roleName;
  delete bob.sessionName;
  assert.equal(byUser.map(bob, 'bob', 'analytics').ruleIndex, 0);
  assert.equal(renderTemplate('u{accountId}', { accountId: '1' }), 'u1');
  assert.equal(renderTemplate('{nope}', { accountId: '1' }), undefined);
  assert.equal(renderTemplate('{constructor}', {}), undefined);
});

test('principal globs only after the account', () => {
  assert.equal(principalMatches('arn:aws:iam::123456789012:role/BI-*', 'arn:aws:iam::123456789012:role/BI-east'), true);
  assert.equal(principalMatches('arn:aws:iam::123456789012:role/BI-*', 'arn:aws:iam::123456789012:role/Analyst'), false);
  assert.equal(principalMatches('arn:aws:iam::*:role/Analyst', 'arn:aws:iam::123456789012:role/Analyst'), false);
  assert.equal(principalMatches('arn:aws:iam::123456789012:role/Analyst', 'arn:aws:iam::210987654321:role/Analyst'), false);
  assert.equal(principalMatches('arn:aws:iam::123456789012:role/A.b', 'arn:aws:iam::123456789012:role/AXb'), false);
  assert.equal(typeof validatePrincipalPattern('arn:aws:iam::12345678901*:role/x'), 'string');
  assert.equal(validatePrincipalPattern('arn:aws:iam::123456789012:role/*'), undefined);
});

test('workgroup rules: optional literal dbUser returned as-is; IAMR: alias', () => {
  const m = createIdentityMapper({
    rules: [rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', databases: ['lake'], assumeRole: 'arn:aws:iam::123456789012:role/rsproxy-lake', dbGroups: ['bi'] })],
    databases,
  });
  const login = m.map(alice, 'IAMR:rsproxy-lake', 'lake');
  assert.equal(login.dbUser, undefined);
  assert.equal(login.assumeRole, 'arn:aws:iam::123456789012:role/rsproxy-lake');
  const lit = createIdentityMapper({ rules: [rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', databases: ['lake'], dbUser: 'rsproxy' })], databases });
  assert.equal(lit.map(alice, 'IAMR:rsproxy', 'lake').dbUser, 'rsproxy');
  assert.throws(() => lit.map(alice, 'admin', 'lake'), code(AuthErrorCode.NoRule));
  assert.equal(stripUserAlias('IAMR:x', false), 'IAMR:x');
});

test('the shared rule table (also run by explain and by the real-login integration test): the mapper admits and refuses as each row says', () => {
  const base = { region: 'eu-west-1', engine: 'redshift' as const, upstreamTls: { mode: 'verify-full' as const } };
  const databases = tableDatabases(base, 'test-cluster', 'other-cluster', 'wg-lake');
  const m = createIdentityMapper({ rules: tableRules, databases });
  for (const row of tableRows) {
    const p = tablePrincipal(row.principal);
    if (!row.expect.admitted && row.expect.stage === 'identity') continue; // refused by the verifier, before the mapper
    const identity = identityFromArn(p.arn);
    const isWorkgroup = databases[row.database]?.workgroup !== undefined;
    if (row.expect.admitted) {
      const login = m.map(identity, row.user, row.database);
      assert.equal(login.ruleIndex, row.expect.ruleIndex, row.name);
      assert.deepEqual(login.dbGroups, row.expect.dbGroups, row.name);
      assert.equal(login.autoCreate, row.expect.autoCreate, row.name);
      if (!isWorkgroup) assert.equal(login.dbUser, row.expect.dbUser, row.name);
    } else if (row.expect.stage === 'rules') {
      assert.throws(() => m.map(identity, row.user, row.database), code(AuthErrorCode.NoRule), row.name);
    } else if (isWorkgroup) {
      // The mapper admits; the credentials layer refuses the user GetCredentials returns.
      assert.equal(m.map(identity, row.user, row.database).ruleIndex, 3, row.name);
    } else {
      assert.throws(() => m.map(identity, row.user, row.database), code(AuthErrorCode.DbNameInvalid), row.name);
    }
  }
});
