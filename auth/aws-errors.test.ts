import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accountFromMessage, awsCallError, classifyAwsError, observeAwsCall, partitionOfRegion, resourceArnFromError } from './aws-errors.js';
import { AuthError, AuthErrorCode } from './errors.js';
import type { AuthObserver } from './types.js';

function sdkError(name: string, status?: number, extra: object = {}): Error {
  const e = new Error(`${name} message`);
  e.name = name;
  Object.assign(e, { $metadata: status === undefined ? {} : { httpStatusCode: status, requestId: 'req-1' }, ...extra });
  return e;
}

test('classification table (docs/design/aws.md §8, §11)', () => {
  const rows: Array<[Error, string]> = [
    [sdkError('Throttling', 400), 'throttled'],
    [sdkError('ThrottlingException', 429), 'throttled'],
    [sdkError('Whatever', 429), 'throttled'],
    [sdkError('InternalFailure', 500), 'unavailable'],
    [sdkError('ServiceUnavailable', 503), 'unavailable'],
    [sdkError('InternalServerException', 400, { $fault: 'server' }), 'unavailable'],
    [sdkError('TimeoutError'), 'unavailable'],
    [sdkError('AbortError'), 'unavailable'],
    [sdkError('Error', undefined, { code: 'ECONNREFUSED' }), 'unavailable'],
    [sdkError('AccessDenied', 403), 'failed'],
    [sdkError('AccessDeniedException', 403), 'failed'],
    [sdkError('ClusterNotFoundFault', 404), 'failed'],
    [sdkError('ResourceNotFoundException', 404), 'failed'],
    [sdkError('UnsupportedOperationFault', 400), 'failed'],
    [sdkError('InvalidParameterValue', 400), 'failed'],
    [sdkError('ValidationException', 400), 'failed'],
  ];
  for (const [err, expected] of rows) assert.equal(classifyAwsError(err), expected, err.name);
});

test('awsCallError: code, operator message with action, resource, status and request id; sanitized cause', () => {
  const err = awsCallError('redshift:GetClusterCredentials', 'arn:aws:redshift:eu-west-1:123456789012:dbuser:c/alice', sdkError('AccessDenied', 403, { $response: { body: 'raw' } }));
  assert.equal(err.code, AuthErrorCode.CredentialsFailed);
  assert.equal(err.retryable, false);
  assert.equal(err.message, 'redshift:GetClusterCredentials on arn:aws:redshift:eu-west-1:123456789012:dbuser:c/alice failed: AccessDenied (HTTP 403): AccessDenied message [request id req-1]');
  assert.deepEqual(err.cause, { name: 'AccessDenied', httpStatusCode: 403, requestId: 'req-1', message: 'AccessDenied message' });
  assert.equal(awsCallError('a', 'r', sdkError('Throttling', 400)).code, AuthErrorCode.CredentialsThrottled);
  assert.equal(awsCallError('a', 'r', sdkError('X', 502)).code, AuthErrorCode.CredentialsUnavailable);
  const passthrough = new AuthError(AuthErrorCode.CredentialsUnavailable, 'x');
  assert.equal(awsCallError('a', 'r', passthrough), passthrough);
});

test('observeAwsCall reports ok / mapped result per attempt', async () => {
  const seen: string[] = [];
  const observer: AuthObserver = { stsRequest() {}, credentialCache() {}, credentialRequest: (api, result) => void seen.push(`${api}:${result}`) };
  assert.equal(await observeAwsCall(observer, 'GetWorkgroup', 'x', () => 'r', async () => 7), 7);
  await assert.rejects(observeAwsCall(observer, 'GetCredentials', 'x', () => 'r', async () => { throw sdkError('ThrottlingException', 400); }));
  await assert.rejects(observeAwsCall(observer, 'GetCredentials', 'x', () => 'r', async () => { throw sdkError('X', 503); }));
  await assert.rejects(observeAwsCall(observer, 'AssumeRole', 'x', () => 'r', async () => { throw sdkError('AccessDenied', 403); }));
  assert.deepEqual(seen, ['GetWorkgroup:ok', 'GetCredentials:throttled', 'GetCredentials:unavailable', 'AssumeRole:failed']);
});

test('partition and account helpers', () => {
  assert.deepEqual(['eu-west-1', 'cn-north-1', 'us-gov-west-1'].map(partitionOfRegion), ['aws', 'aws-cn', 'aws-us-gov']);
  assert.equal(accountFromMessage('User: arn:aws:iam::123456789012:user/x is not authorized'), '123456789012');
  assert.equal(accountFromMessage('no arn here'), '*');
  const denied = sdkError('AccessDeniedException', 400);
  denied.message = 'User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized';
  assert.equal(resourceArnFromError('redshift', 'eu-west-1', denied, 'cluster:c1'), 'arn:aws:redshift:eu-west-1:123456789012:cluster:c1');
  assert.equal(resourceArnFromError('redshift-serverless', 'cn-north-1', new Error('x'), 'workgroup/wg'), 'arn:aws-cn:redshift-serverless:cn-north-1:*:workgroup/wg');
});
