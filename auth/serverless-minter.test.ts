process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonError, startAwsStub } from '../testkit/aws-stub.js';
import { AuthError, AuthErrorCode } from './errors.js';
import { createServerlessApi } from './serverless-minter.js';
import { silentLogger, type AuthObserver } from './types.js';

const credentials = { accessKeyId: 'AKIAPROXYEXAMPLE0001', secretAccessKey: 'proxySecret' };
const json = (body: object) => ({ status: 200, body: JSON.stringify(body), contentType: 'application/x-amz-json-1.1' });

function codeIs(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof AuthError, String(err));
    assert.equal(err.code, code);
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  };
}

test('GetCredentials: JSON request, epoch-seconds expiration → ms, role credentials used for signing', async () => {
  await using stub = await startAwsStub();
  const seen: string[] = [];
  const observer: AuthObserver = { stsRequest() {}, credentialCache() {}, credentialRequest(api, result) { seen.push(`${api}:${result}`); } };
  const api = createServerlessApi({ logger: silentLogger, observer, endpoint: stub.url, credentials });
  stub.reply(json({ dbUser: 'IAMR:lake-bi', dbPassword: 'pw', expiration: 1893456000, nextRefreshTime: 1893455100 }));
  const role = { accessKeyId: 'ASIAROLEEXAMPLE00001', secretAccessKey: 'roleSecret', sessionToken: 'roleToken' };
  const c = await api.getCredentials('eu-west-1', { workgroup: 'wg-lake', dbName: 'dev', durationSeconds: 900 }, role);
  assert.deepEqual(c, { dbUser: 'IAMR:lake-bi', dbPassword: 'pw', expiresAtMs: 1893456000_000 });
  const r = stub.requests[0];
  assert.equal(r?.headers['x-amz-target'], 'RedshiftServerless.GetCredentials');
  assert.deepEqual(JSON.parse(r?.body ?? '{}'), { dbName: 'dev', durationSeconds: 900, workgroupName: 'wg-lake' });
  assert.match(String(r?.headers['authorization']), /Credential=ASIAROLEEXAMPLE00001\/\d{8}\/eu-west-1\/redshift-serverless\/aws4_request/);
  assert.equal(r?.headers['x-amz-security-token'], 'roleToken');
  assert.deepEqual(seen, ['GetCredentials:ok']);
  api.destroy();
});

test('GetWorkgroup: endpoint; missing endpoint → unavailable', async () => {
  await using stub = await startAwsStub();
  const api = createServerlessApi({ logger: silentLogger, endpoint: stub.url, credentials });
  stub.reply(json({ workgroup: { workgroupName: 'wg', status: 'AVAILABLE', endpoint: { address: 'wg.example.com', port: 5440 } } }));
  assert.deepEqual(await api.getWorkgroupEndpoint('eu-west-1', 'wg'), { host: 'wg.example.com', port: 5440 });
  assert.equal(stub.requests[0]?.headers['x-amz-target'], 'RedshiftServerless.GetWorkgroup');
  stub.reply(json({ workgroup: { workgroupName: 'wg', status: 'CREATING' } }));
  await assert.rejects(api.getWorkgroupEndpoint('eu-west-1', 'wg'), codeIs(AuthErrorCode.CredentialsUnavailable, /status CREATING/));
  api.destroy();
});

test('error mapping: ThrottlingException, InternalServerException, ResourceNotFound, AccessDenied, Validation', async () => {
  await using stub = await startAwsStub();
  const api = createServerlessApi({ logger: silentLogger, endpoint: stub.url, credentials });
  const req = { workgroup: 'wg', dbName: 'dev', durationSeconds: 900 };
  stub.reply(jsonError(400, 'ThrottlingException', 'Rate exceeded'));
  await assert.rejects(api.getCredentials('eu-west-1', req), codeIs(AuthErrorCode.CredentialsThrottled));
  stub.reply(jsonError(429, 'com.amazonaws.redshiftserverless#ThrottlingException', 'Rate exceeded'));
  await assert.rejects(api.getCredentials('eu-west-1', req), codeIs(AuthErrorCode.CredentialsThrottled));
  stub.requests.length = 0;
  stub.reply(jsonError(500, 'InternalServerException', 'oops'));
  await assert.rejects(api.getCredentials('eu-west-1', req), codeIs(AuthErrorCode.CredentialsUnavailable));
  assert.equal(stub.requests.length, 1);
  stub.reply(jsonError(404, 'ResourceNotFoundException', 'Workgroup wg not found'));
  await assert.rejects(api.getWorkgroupEndpoint('eu-west-1', 'wg'), codeIs(AuthErrorCode.CredentialsFailed, /^redshift-serverless:GetWorkgroup on arn:aws:redshift-serverless:eu-west-1:\*:workgroup\/wg failed: ResourceNotFoundException/));
  stub.reply(jsonError(403, 'AccessDeniedException', 'User: arn:aws:iam::123456789012:user/rsproxy is not authorized'));
  await assert.rejects(api.getCredentials('eu-west-1', req), codeIs(AuthErrorCode.CredentialsFailed, /arn:aws:redshift-serverless:eu-west-1:123456789012:workgroup\/wg/));
  stub.reply(jsonError(400, 'ValidationException', 'durationSeconds'));
  await assert.rejects(api.getCredentials('eu-west-1', req), codeIs(AuthErrorCode.CredentialsFailed, /ValidationException/));
  api.destroy();
});

test('AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS is honoured by the installed SDK', async () => {
  await using stub = await startAwsStub();
  process.env['AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS'] = stub.url;
  try {
    const api = createServerlessApi({ logger: silentLogger, credentials });
    stub.reply(json({ workgroup: { endpoint: { address: 'h', port: 5439 } } }));
    assert.deepEqual(await api.getWorkgroupEndpoint('us-west-2', 'wg'), { host: 'h', port: 5439 });
    assert.equal(stub.requests.length, 1);
    api.destroy();
  } finally {
    delete process.env['AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS'];
  }
});
