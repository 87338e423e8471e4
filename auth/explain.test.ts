import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError, AuthErrorCode } from './errors.js';
import { ExplainInputError, explainLogin, identityFromArn } from './explain.js';
import { createIdentityMapper } from './identity-mapper.js';
import { tableAccount, tableDatabases, tableLakeRole, tablePrincipal, tableRows, tableRules } from '../testkit/auth-rule-table.js';
import { testIdentityOptions } from '../testkit/auth-fixtures.js';
import type { AuthOptions, DatabaseOptions } from './types.js';

const base: Omit<DatabaseOptions, 'cluster' | 'workgroup' | 'dbName'> = { region: 'eu-west-1', engine: 'redshift', upstreamTls: { mode: 'verify-full' } };
const config: AuthOptions = {
  identity: testIdentityOptions(),
  databases: tableDatabases(base, 'test-cluster', 'other-cluster', 'wg-lake'),
  rules: tableRules,
  credentials: { durationSeconds: 900, refreshBeforeSeconds: 60 },
};

for (const row of tableRows) {
  test(`explain, table row: ${row.name}`, () => {
    const arn = tablePrincipal(row.principal).arn;
    const e = explainLogin(config, { arn, database: row.database, user: row.user });
    assert.equal(e.admitted, row.expect.admitted, JSON.stringify(e));
    if (row.expect.admitted) {
      assert.equal(e.rule?.index, row.expect.ruleIndex);
      assert.equal(e.rule?.principal, tableRules[row.expect.ruleIndex]?.principal);
      assert.equal(e.dbUser, row.expect.dbUser);
      assert.deepEqual(e.dbGroups, [...row.expect.dbGroups]);
      assert.equal(e.autoCreate, row.expect.autoCreate);
      assert.ok(e.awsCalls !== undefined && e.awsCalls.length > 0);
      return;
    }
    if (row.expect.stage === 'identity') {
      assert.match(e.identityDenied ?? '', /allowedAccounts/);
      assert.deepEqual(e.rules, [], 'no rule is tried for an identity the verifier refuses');
    } else if (row.expect.stage === 'rules') {
      assert.equal(e.rule, undefined);
      assert.equal(e.rules.length, tableRules.length, 'every rule is reported');
      for (const r of e.rules) {
        assert.equal(r.matched, false);
        assert.ok(r.failed !== undefined && r.reason !== undefined && r.reason !== '', `rule ${r.index} names what did not match`);
      }
    } else {
      assert.ok(e.rule !== undefined && e.loginDenied !== undefined, 'a rule wins, and the login still fails after it');
    }
  });
}

test('explain and the login mapper agree on every table row (one matching implementation)', () => {
  const mapper = createIdentityMapper({ rules: config.rules, databases: config.databases });
  for (const row of tableRows) {
    if (!row.expect.admitted && row.expect.stage === 'identity') continue;
    const identity = identityFromArn(tablePrincipal(row.principal).arn);
    const e = explainLogin(config, { arn: identity.arn, database: row.database, user: row.user });
    let mapped: ReturnType<typeof mapper.map> | AuthError;
    try {
      mapped = mapper.map(identity, row.user, row.database);
    } catch (err) {
      assert.ok(err instanceof AuthError);
      mapped = err;
    }
    if (mapped instanceof AuthError) {
      assert.equal(e.admitted, false, row.name);
      assert.equal(mapped.code === AuthErrorCode.DbNameInvalid, e.loginDenied !== undefined, `${row.name}: name-rule failures are login denials`);
    } else {
      assert.equal(mapped.ruleIndex, e.rule?.index, row.name);
      assert.deepEqual([...mapped.dbGroups].sort(), e.dbGroups, row.name);
      // On a workgroup the credentials layer compares the returned user afterwards (explain predicts IAMR:<role>).
      if (config.databases[row.database]?.workgroup === undefined) assert.equal(mapped.dbUser, e.dbUser, row.name);
    }
  }
});

test('denied: each rule reports the first check that failed (principal, database, user)', () => {
  const alice = tablePrincipal('alice').arn;
  const other = explainLogin(config, { arn: alice, database: 'other', user: 'alice' });
  assert.deepEqual(other.rules.map((r) => r.failed), ['database', 'principal', 'principal', 'principal', 'principal']);
  assert.match(other.rules[0]?.reason ?? '', /"other" is not in the rule's databases \[dev\]/);
  const admin = explainLogin(config, { arn: alice, database: 'dev', user: 'admin' });
  assert.equal(admin.rules[0]?.failed, 'user');
  assert.match(admin.rules[0]?.reason ?? '', /rendered dbUser "alice" is not the startup user "admin"/);
  const ivan = explainLogin(config, { arn: tablePrincipal('ivan').arn, database: 'dev', user: 'ivan' });
  assert.match(ivan.rules[4]?.reason ?? '', /dbUser template \{userName\} does not exist for a assumed-role principal/);
  const untrusted: AuthOptions = { ...config, rules: [{ ...tableRules[0]!, trustSessionName: false }] };
  assert.match(explainLogin(untrusted, { arn: tablePrincipal('alice').arn, database: 'dev', user: 'alice' }).rules[0]?.reason ?? '', /does not set trustSessionName/);
});

test('admitted: the AWS calls with their resource ARNs and callers', () => {
  const alice = explainLogin(config, { arn: tablePrincipal('alice').arn, database: 'dev', user: 'alice' });
  const arn = (r: string) => `arn:aws:redshift:eu-west-1:${tableAccount}:${r}`;
  assert.deepEqual(alice.awsCalls, [
    { api: 'DescribeClusters', caller: 'proxy', permissions: [{ action: 'redshift:DescribeClusters', resource: arn('cluster:test-cluster') }] },
    {
      api: 'GetClusterCredentials',
      caller: 'proxy',
      permissions: [
        { action: 'redshift:GetClusterCredentials', resource: arn('dbuser:test-cluster/alice') },
        { action: 'redshift:GetClusterCredentials', resource: arn('dbname:test-cluster/postgres') },
        { action: 'redshift:CreateClusterUser', resource: arn('dbuser:test-cluster/alice') },
        { action: 'redshift:JoinGroup', resource: arn('dbgroup:test-cluster/analysts') },
      ],
    },
  ]);
  assert.deepEqual(alice.target, { kind: 'cluster', cluster: 'test-cluster', region: 'eu-west-1', dbName: 'postgres' });
  const lake = explainLogin(config, { arn: tablePrincipal('carol').arn, database: 'lake', user: 'IAMR:rsproxy-lake-bi', account: '111122223333' });
  const wg = 'arn:aws:redshift-serverless:eu-west-1:111122223333:workgroup/*';
  assert.deepEqual(lake.awsCalls, [
    { api: 'GetWorkgroup', caller: 'proxy', permissions: [{ action: 'redshift-serverless:GetWorkgroup', resource: wg }] },
    { api: 'AssumeRole', caller: 'proxy', permissions: [{ action: 'sts:AssumeRole', resource: tableLakeRole }, { action: 'sts:TagSession', resource: tableLakeRole }] },
    { api: 'GetCredentials', caller: { role: tableLakeRole }, permissions: [{ action: 'redshift-serverless:GetCredentials', resource: wg }] },
  ]);
  assert.equal(lake.assumeRole, tableLakeRole);
  assert.equal(lake.roleSessionName, 'carol');
  // A fixed host: no discovery call.
  const fixed: AuthOptions = { ...config, databases: { ...config.databases, dev: { ...base, cluster: 'c9', dbName: 'dev', host: '10.0.0.5' } } };
  const calls = explainLogin(fixed, { arn: tablePrincipal('bob').arn, database: 'dev', user: 'bob' }).awsCalls ?? [];
  assert.deepEqual(calls.map((c) => c.api), ['GetClusterCredentials']);
});

test('--user omitted: the user a login would need, from the first rule that renders one', () => {
  const carol = explainLogin(config, { arn: tablePrincipal('carol').arn, database: 'dev' });
  assert.equal(carol.admitted, true);
  assert.equal(carol.user, null);
  assert.equal(carol.dbUser, 'r_BI-east');
  assert.ok(carol.notes.some((n) => n.includes('"r_BI-east"')));
});

test('ARNs: assumed-role converted as the verifier does; a canonical role ARN has no session name', () => {
  const id = identityFromArn('arn:aws:sts::123456789012:assumed-role/Analyst/alice');
  assert.equal(id.canonicalArn, 'arn:aws:iam::123456789012:role/Analyst');
  assert.equal(id.sessionName, 'alice');
  const role = explainLogin(config, { arn: 'arn:aws:iam::123456789012:role/Analyst', database: 'dev', user: 'alice' });
  assert.equal(role.admitted, false);
  assert.match(role.rules[0]?.reason ?? '', /no session name/);
  assert.ok(role.notes.some((n) => n.includes('canonical role ARN has no session name')));
  const roleCarol = explainLogin(config, { arn: 'arn:aws:iam::123456789012:role/BI-east', database: 'dev', user: 'r_BI-east' });
  assert.equal(roleCarol.admitted, true, '{roleName} renders from a canonical role ARN');
  for (const bad of ['arn:aws:iam::123456789012:role/path/Analyst', 'arn:aws:iam::12345:user/bob', 'arn:aws:s3:::bucket', 'alice', 'arn:aws:sts::123456789012:assumed-role/Analyst']) {
    assert.throws(() => explainLogin(config, { arn: bad, database: 'dev' }), ExplainInputError, bad);
  }
  assert.throws(() => explainLogin(config, { arn: id.arn, database: 'nope' }), /not in the config's databases \(dev, lake, other\)/);
  assert.throws(() => explainLogin(config, { arn: id.arn, database: 'constructor' }), ExplainInputError);
});

test('identity checks before the rules: partition, root and federated users', () => {
  const cn = explainLogin(config, { arn: 'arn:aws-cn:sts::123456789012:assumed-role/Analyst/alice', database: 'dev', user: 'alice' });
  assert.match(cn.identityDenied ?? '', /partition aws-cn is not identity.partition \(aws\)/);
  const root = explainLogin(config, { arn: 'arn:aws:iam::123456789012:root', database: 'dev' });
  assert.match(root.identityDenied ?? '', /allowRootAndFederated/);
  const cnConfig: AuthOptions = { ...config, identity: testIdentityOptions({ partition: 'aws-cn' }), databases: { dev: { ...base, region: 'cn-north-1', cluster: 'c', dbName: 'dev' } } };
  const ok = explainLogin(cnConfig, { arn: 'arn:aws-cn:sts::123456789012:assumed-role/Analyst/alice', database: 'dev', user: 'alice' });
  assert.equal(ok.admitted, false, 'the table principals are aws ARNs; rule principals are partition-literal');
  const cnRules: AuthOptions = { ...cnConfig, rules: [{ ...tableRules[1]!, principal: 'arn:aws-cn:iam::123456789012:user/bob', databases: ['dev'] }] };
  const bob = explainLogin(cnRules, { arn: 'arn:aws-cn:iam::123456789012:user/bob', database: 'dev', user: 'bob' });
  assert.equal(bob.admitted, true);
  assert.ok(bob.awsCalls?.every((c) => c.permissions.every((p) => p.resource.startsWith('arn:aws-cn:redshift:cn-north-1:'))));
});
