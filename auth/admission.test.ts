import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admitLogin, createAdmissionCheck } from './admission.js';
import { AuthErrorCode, isAuthError } from './errors.js';
import { createIdentityMapper } from './identity-mapper.js';
import type { DatabaseOptions, RuleOptions } from './types.js';
import { aliceIdentity } from '../testkit/auth-fixtures.js';

const cluster: DatabaseOptions = { cluster: 'c1', region: 'eu-west-1', engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'verify-full' } };
const workgroup: DatabaseOptions = { workgroup: 'wg', region: 'eu-west-1', engine: 'redshift', dbName: 'lake', upstreamTls: { mode: 'verify-full' } };
const databases = { analytics: cluster, lake: workgroup };
const rule = (r: Partial<RuleOptions> & { principal: string }): RuleOptions => ({ dbGroups: [], databases: ['analytics'], autoCreate: false, trustSessionName: false, ...r });
const analyst = rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', dbUser: '{sessionName}', trustSessionName: true });
const bob = { ...aliceIdentity, canonicalArn: 'arn:aws:iam::123456789012:user/bob', arn: 'arn:aws:iam::123456789012:user/bob', principalType: 'user' as const, userName: 'bob' };

test('createAdmissionCheck: the same answer as the login mapping, per identity, user and database', () => {
  const isAdmitted = createAdmissionCheck({ rules: [analyst, rule({ principal: 'arn:aws:iam::123456789012:user/bob', dbUser: 'bob' })], databases });
  assert.equal(isAdmitted(aliceIdentity, 'alice', 'analytics'), true);
  assert.equal(isAdmitted(aliceIdentity, 'IAMA:alice', 'analytics'), true, 'alias prefix as at login');
  assert.equal(isAdmitted(bob, 'bob', 'analytics'), true);
  assert.equal(isAdmitted(aliceIdentity, 'bob', 'analytics'), false, 'another user');
  assert.equal(isAdmitted(aliceIdentity, 'alice', 'lake'), false, 'a database the rule does not list');
  assert.equal(isAdmitted(aliceIdentity, 'alice', 'gone'), false, 'a database no longer configured');
});

test('createAdmissionCheck: a rule removed from the config no longer admits its sessions; the others still do', () => {
  const before = createAdmissionCheck({ rules: [analyst, rule({ principal: 'arn:aws:iam::123456789012:user/bob', dbUser: 'bob' })], databases });
  const after = createAdmissionCheck({ rules: [rule({ principal: 'arn:aws:iam::123456789012:user/bob', dbUser: 'bob' })], databases });
  assert.equal(before(aliceIdentity, 'alice', 'analytics'), true);
  assert.equal(after(aliceIdentity, 'alice', 'analytics'), false);
  assert.equal(after(bob, 'bob', 'analytics'), true);
  const untrusted = createAdmissionCheck({ rules: [{ ...analyst, trustSessionName: false }], databases });
  assert.equal(untrusted(aliceIdentity, 'alice', 'analytics'), false, '{sessionName} without trustSessionName renders nothing');
});

test('admitLogin: a cluster rule without dbUser is denied as at login; a workgroup rule without dbUser admits', () => {
  const rules = [rule({ principal: 'arn:aws:iam::123456789012:role/Analyst', databases: ['analytics', 'lake'] })];
  const mapper = createIdentityMapper({ rules, databases });
  assert.throws(() => admitLogin(mapper, databases, aliceIdentity, 'alice', 'analytics'), (e: unknown) => isAuthError(e) && e.code === AuthErrorCode.NoRule);
  assert.equal(admitLogin(mapper, databases, aliceIdentity, 'IAMR:rsproxy', 'lake').db, workgroup);
  assert.equal(createAdmissionCheck({ rules, databases })(aliceIdentity, 'alice', 'analytics'), false);
});
