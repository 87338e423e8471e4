import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateIamPolicy, parseIamPolicy, PolicyTable, policyKey, wildcardMatch, type IamPolicy } from './iam-policy.js';

const parse = (doc: unknown): IamPolicy => {
  const p = parseIamPolicy(doc);
  assert.ok(typeof p !== 'string', String(p));
  return p;
};

test('wildcards: * is any run (also empty), ? exactly one character; case only on request', () => {
  const cases: Array<[string, string, boolean]> = [
    ['arn:aws:redshift:eu-west-1:1:dbuser:c/*', 'arn:aws:redshift:eu-west-1:1:dbuser:c/alice', true],
    ['arn:aws:redshift:eu-west-1:1:dbuser:c/*', 'arn:aws:redshift:eu-west-1:1:dbuser:c/', true],
    ['arn:aws:redshift:eu-west-1:1:dbuser:c/*', 'arn:aws:redshift:eu-west-1:1:dbuser:d/alice', false],
    ['arn:aws:redshift:eu-west-1:1:dbuser:c/u_*', 'arn:aws:redshift:eu-west-1:1:dbuser:c/u_x', true],
    ['arn:aws:redshift:eu-west-1:1:dbuser:c/u_*', 'arn:aws:redshift:eu-west-1:1:dbuser:c/admin', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['a?c', 'abbc', false],
    ['*a*b*', 'xxaxxbxx', true],
    ['*a*b*', 'xxbxxaxx', false],
    ['*', '', true],
    ['', '', true],
    ['abc', 'ABC', false],
    ['a.c', 'abc', false],
  ];
  for (const [p, v, want] of cases) assert.equal(wildcardMatch(p, v), want, `${p} vs ${v}`);
  assert.equal(wildcardMatch('Redshift:getclustercredentials', 'redshift:GetClusterCredentials', true), true);
});

test('evaluation: Allow needs action and resource; an explicit Deny wins; nothing matching is an implicit deny', () => {
  const policy = parse({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'Mint', Effect: 'Allow', Action: 'redshift:GetClusterCredentials', Resource: ['arn:aws:redshift:eu-west-1:1:dbuser:c/*', 'arn:aws:redshift:eu-west-1:1:dbname:c/dev'] },
      { Effect: 'Allow', Action: ['redshift:Describe*'], Resource: '*' },
      { Effect: 'Deny', Action: 'redshift:GetClusterCredentials', Resource: 'arn:aws:redshift:eu-west-1:1:dbuser:c/awsuser' },
    ],
  });
  assert.equal(evaluateIamPolicy(policy, 'redshift:GetClusterCredentials', 'arn:aws:redshift:eu-west-1:1:dbuser:c/alice'), 'allow');
  assert.equal(evaluateIamPolicy(policy, 'REDSHIFT:getclustercredentials', 'arn:aws:redshift:eu-west-1:1:dbuser:c/alice'), 'allow', 'action names are case-insensitive');
  assert.equal(evaluateIamPolicy(policy, 'redshift:GetClusterCredentials', 'arn:aws:redshift:eu-west-1:1:dbname:c/other'), 'implicit-deny');
  assert.equal(evaluateIamPolicy(policy, 'redshift:GetClusterCredentials', 'arn:aws:redshift:eu-west-1:1:dbuser:c/awsuser'), 'explicit-deny');
  assert.equal(evaluateIamPolicy(policy, 'redshift:JoinGroup', 'arn:aws:redshift:eu-west-1:1:dbgroup:c/admins'), 'implicit-deny');
  assert.equal(evaluateIamPolicy(policy, 'redshift:DescribeClusters', 'arn:aws:redshift:eu-west-1:1:cluster:c'), 'allow');
  assert.equal(evaluateIamPolicy(policy, 'redshift:GetClusterCredentials', 'arn:aws:redshift:eu-west-1:1:DBUSER:c/alice'), 'implicit-deny', 'resources are case-sensitive');
});

test('parse: the emulator refuses what it cannot evaluate rather than ignoring it', () => {
  assert.equal(typeof parseIamPolicy({ Version: '2008-10-17', Statement: [] }), 'string');
  assert.equal(typeof parseIamPolicy({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'x:y', Resource: '*', Condition: {} }] }), 'string');
  assert.equal(typeof parseIamPolicy({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', NotAction: 'x:y', Resource: '*' }] }), 'string');
  assert.equal(typeof parseIamPolicy({ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: 'x:y', Resource: '*' }] }), 'string');
  assert.equal(typeof parseIamPolicy({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: [], Resource: '*' }] }), 'string');
  assert.equal(typeof parseIamPolicy('{not json'), 'string');
  assert.equal(typeof parseIamPolicy(JSON.stringify({ Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'x:y', Resource: '*' } })), 'object');
});

test('PolicyTable: per principal (sessions use their role), first denied check named as AWS words it; no policy = allowed', () => {
  const table = new PolicyTable();
  const session = 'arn:aws:sts::123456789012:assumed-role/rsproxy/i-0abc';
  assert.equal(policyKey(session), 'arn:aws:iam::123456789012:role/rsproxy');
  assert.equal(policyKey('arn:aws:iam::123456789012:user/team/bob'), 'arn:aws:iam::123456789012:user/team/bob');
  assert.equal(table.authorize(session, [['redshift:GetClusterCredentials', 'x']]), undefined);
  table.set('arn:aws:iam::123456789012:role/rsproxy', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: 'arn:aws:iam::123456789012:role/lake' }] });
  assert.equal(table.authorize(session, [['sts:AssumeRole', 'arn:aws:iam::123456789012:role/lake']]), undefined);
  const denied = table.authorize(session, [['sts:AssumeRole', 'arn:aws:iam::123456789012:role/lake'], ['sts:TagSession', 'arn:aws:iam::123456789012:role/lake']]);
  assert.equal(denied, `User: ${session} is not authorized to perform: sts:TagSession on resource: arn:aws:iam::123456789012:role/lake because no identity-based policy allows the sts:TagSession action`);
  assert.throws(() => table.set('arn:aws:iam::123456789012:user/x', { Version: '2012-10-17' }), /no Statement/);
  table.set('arn:aws:iam::123456789012:role/rsproxy', undefined);
  assert.equal(table.authorize(session, [['sts:TagSession', 'y']]), undefined);
});
