import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUserIdConsistent, parseCallerArn } from './arn.js';

test('canonicalisation table (docs/design/token.md §7)', () => {
  const rows: [string, string, string][] = [
    ['arn:aws:sts::123456789012:assumed-role/Analyst/alice', 'arn:aws:iam::123456789012:role/Analyst', 'assumed-role'],
    ['arn:aws:iam::123456789012:user/bob', 'arn:aws:iam::123456789012:user/bob', 'user'],
    ['arn:aws:iam::123456789012:user/division/team/bob', 'arn:aws:iam::123456789012:user/division/team/bob', 'user'],
    ['arn:aws:sts::123456789012:federated-user/carol', 'arn:aws:sts::123456789012:federated-user/carol', 'federated-user'],
    ['arn:aws:iam::123456789012:root', 'arn:aws:iam::123456789012:root', 'root'],
    ['arn:aws-cn:sts::123456789012:assumed-role/R/s1', 'arn:aws-cn:iam::123456789012:role/R', 'assumed-role'],
  ];
  for (const [arn, canonical, type] of rows) {
    const p = parseCallerArn(arn);
    assert.equal(p?.canonicalArn, canonical, arn);
    assert.equal(p?.principalType, type, arn);
  }
  const p = parseCallerArn('arn:aws:iam::123456789012:user/division/team/bob');
  assert.equal(p?.userName, 'bob');
  const r = parseCallerArn('arn:aws:sts::123456789012:assumed-role/Analyst/alice@example.com');
  assert.equal(r?.roleName, 'Analyst');
  assert.equal(r?.sessionName, 'alice@example.com');
});

test('anything outside the table is rejected', () => {
  for (const arn of [
    'arn:aws:sts::123456789012:assumed-role/OnlyRole',
    'arn:aws:sts::123456789012:assumed-role/path/Role/session',
    'arn:aws:sts::123456789012:assumed-role/Role/s',
    'arn:aws:iam::123456789012:role/Analyst',
    'arn:aws:iam::123456789012:instance-profile/x',
    'arn:aws:s3:::bucket',
    'arn:aws:sts:eu-west-1:123456789012:assumed-role/R/s1',
    'arn:aws:sts::12345678901:assumed-role/R/s1',
    'arn:aws-iso:sts::123456789012:assumed-role/R/s1',
    'arn:aws:iam::123456789012:user/',
    'arn:aws:iam::123456789012:user/a b',
    'arn:aws:iam::123456789012:root:x',
    'arn:aws:sts::123456789012:federated-user/c',
    `arn:aws:sts::123456789012:assumed-role/${'r'.repeat(65)}/s1`,
    'arn:aws:sts::123456789012:assumed-role/R/s1/extra',
  ]) {
    assert.equal(parseCallerArn(arn), undefined, arn);
  }
});

test('UserId consistency', () => {
  const role = parseCallerArn('arn:aws:sts::123456789012:assumed-role/Analyst/alice');
  assert.ok(role);
  assert.equal(isUserIdConsistent(role, 'AROAEXAMPLE123:alice'), true);
  assert.equal(isUserIdConsistent(role, 'AROAEXAMPLE123:mallory'), false);
  assert.equal(isUserIdConsistent(role, 'AIDAEXAMPLE123'), false);
  assert.equal(isUserIdConsistent(role, 'AROAEXAMPLE123:alice:x'), false);
  const user = parseCallerArn('arn:aws:iam::123456789012:user/bob');
  assert.ok(user);
  assert.equal(isUserIdConsistent(user, 'AIDAEXAMPLE123'), true);
  assert.equal(isUserIdConsistent(user, 'AROAEXAMPLE123:bob'), false);
  const fed = parseCallerArn('arn:aws:sts::123456789012:federated-user/carol');
  assert.ok(fed);
  assert.equal(isUserIdConsistent(fed, '123456789012:carol'), true);
  assert.equal(isUserIdConsistent(fed, '123456789012:dave'), false);
  const root = parseCallerArn('arn:aws:iam::123456789012:root');
  assert.ok(root);
  assert.equal(isUserIdConsistent(root, '123456789012'), true);
  assert.equal(isUserIdConsistent(root, '210987654321'), false);
});
