import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError, AuthErrorCode } from '../../auth/errors.js';
import { explainAwsFailure, requiredPermissions, type CredentialsTarget } from './credentials-errors.js';
import { credentialSourceOf } from './credentials.js';

const target: CredentialsTarget = { kind: 'cluster', id: 'analytics-prod', region: 'eu-west-1', dbUser: 'adam', dbName: 'dev', dbGroups: ['analysts'], autoCreate: true };

function awsError(action: string, resource: string, name: string, message: string): AuthError {
  return new AuthError(AuthErrorCode.CredentialsFailed, `${action} on ${resource} failed: ${name} (HTTP 403): ${message}`, { cause: { name, message } });
}

test('requiredPermissions: the failing action with every resource it touches (dbuser, dbname, auto-create, groups)', () => {
  assert.deepEqual(requiredPermissions(target, '123456789012', 'redshift:GetClusterCredentials'), [
    'redshift:GetClusterCredentials on arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod/adam',
    'redshift:GetClusterCredentials on arn:aws:redshift:eu-west-1:123456789012:dbname:analytics-prod/dev',
    'redshift:CreateClusterUser on arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod/adam',
    'redshift:JoinGroup on arn:aws:redshift:eu-west-1:123456789012:dbgroup:analytics-prod/analysts',
  ]);
  assert.deepEqual(requiredPermissions(target, '123456789012', 'redshift:DescribeClusters'), [
    'redshift:DescribeClusters on arn:aws:redshift:eu-west-1:123456789012:cluster:analytics-prod',
  ]);
  const wg: CredentialsTarget = { kind: 'workgroup', id: 'wg', region: 'cn-north-1', dbName: 'dev', dbGroups: [], autoCreate: false };
  assert.deepEqual(requiredPermissions(wg, '123456789012', 'redshift-serverless:GetCredentials'), [
    'redshift-serverless:GetCredentials on arn:aws-cn:redshift-serverless:cn-north-1:123456789012:workgroup/wg',
  ]);
});

test('explainAwsFailure: AccessDenied names the account from the AWS message and the ARNs; other errors get one clear line', () => {
  const denied = awsError(
    'redshift:GetClusterCredentials',
    'arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod/adam',
    'AccessDenied',
    'User: arn:aws:iam::123456789012:user/adam is not authorized to perform: redshift:GetClusterCredentials on resource: arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod/adam',
  );
  const text = explainAwsFailure(denied, target);
  assert.match(text, /^AWS denied redshift:GetClusterCredentials \(AccessDenied\): User: /);
  assert.ok(text.includes('\n  redshift:GetClusterCredentials on arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod/adam\n'));
  assert.ok(text.includes('redshift:JoinGroup on arn:aws:redshift:eu-west-1:123456789012:dbgroup:analytics-prod/analysts'));

  const noAccount = explainAwsFailure(awsError('redshift:DescribeClusters', 'x', 'AccessDeniedException', 'denied'), target);
  assert.ok(noAccount.includes('redshift:DescribeClusters on arn:aws:redshift:eu-west-1:<account-id>:cluster:analytics-prod'));

  assert.match(explainAwsFailure(awsError('redshift:DescribeClusters', 'x', 'ClusterNotFound', 'Cluster analytics-prod not found.'), target), /^cluster analytics-prod was not found in eu-west-1/);
  assert.match(explainAwsFailure(awsError('redshift:GetClusterCredentials', 'x', 'Throttling', 'Rate exceeded'), target), /throttled/);
  assert.match(explainAwsFailure(awsError('redshift:GetClusterCredentials', 'x', 'InvalidClientTokenId', 'bad key'), target), /no usable AWS credentials/);
  assert.equal(explainAwsFailure(new Error('disk full'), target), 'disk full');
});

test('credentialSourceOf: a named profile wins over env keys (as in the SDK chain); else the access key id; else the default chain', () => {
  assert.equal(credentialSourceOf('dev', { AWS_ACCESS_KEY_ID: 'AKIA1' }), 'profile:dev');
  assert.equal(credentialSourceOf(undefined, { AWS_PROFILE: 'ops', AWS_ACCESS_KEY_ID: 'AKIA1' }), 'profile:ops');
  assert.equal(credentialSourceOf(undefined, { AWS_ACCESS_KEY_ID: 'AKIA1' }), 'akid:AKIA1');
  assert.equal(credentialSourceOf(undefined, {}), 'chain:default');
});
