process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAwsStub, queryError } from '../testkit/aws-stub.js';
import { AuthError, AuthErrorCode } from './errors.js';
import { createRedshiftApi } from './redshift-minter.js';
import { silentLogger, type AuthObserver } from './types.js';

const credentials = { accessKeyId: 'AKIAPROXYEXAMPLE0001', secretAccessKey: 'proxySecret' };
const ns = 'xmlns="http://redshift.amazonaws.com/doc/2012-12-01/"';

function recorder() {
  const requests: string[] = [];
  const observer: AuthObserver = { stsRequest() {}, credentialCache() {}, credentialRequest(api, result) { requests.push(`${api}:${result}`); } };
  return { requests, observer };
}

const gccOk = (password: string) => ({
  status: 200,
  body: `<GetClusterCredentialsResponse ${ns}><GetClusterCredentialsResult><DbUser>IAMA:alice</DbUser><DbPassword>${password}</DbPassword><Expiration>2030-01-02T03:04:05Z</Expiration></GetClusterCredentialsResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetClusterCredentialsResponse>`,
});

const request = { clusterId: 'analytics-prod', dbUser: 'alice', dbName: 'dev', dbGroups: ['bi', 'analysts'], autoCreate: true, durationSeconds: 900 };

function failedWith(code: string, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof AuthError, String(err));
    assert.equal(err.code, code);
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  };
}

test('GetClusterCredentials: form encoding (sorted DbGroups), Expiration parsed, observer ok', async () => {
  await using stub = await startAwsStub();
  const rec = recorder();
  const api = createRedshiftApi({ logger: silentLogger, observer: rec.observer, endpoint: stub.url, credentials });
  stub.reply(gccOk('s3cretPassw0rd'));
  const c = await api.getClusterCredentials('eu-west-1', request);
  assert.deepEqual(c, { dbUser: 'IAMA:alice', dbPassword: 's3cretPassw0rd', expiresAtMs: Date.parse('2030-01-02T03:04:05Z') });
  const f = stub.requests[0]?.form;
  assert.equal(f?.get('Action'), 'GetClusterCredentials');
  assert.equal(f?.get('ClusterIdentifier'), 'analytics-prod');
  assert.equal(f?.get('DbUser'), 'alice');
  assert.equal(f?.get('DbName'), 'dev');
  assert.equal(f?.get('DurationSeconds'), '900');
  assert.equal(f?.get('AutoCreate'), 'true');
  assert.equal(f?.get('DbGroups.DbGroup.1'), 'analysts');
  assert.equal(f?.get('DbGroups.DbGroup.2'), 'bi');
  assert.match(String(stub.requests[0]?.headers['authorization']), /Credential=AKIAPROXYEXAMPLE0001\/\d{8}\/eu-west-1\/redshift\/aws4_request/);
  assert.deepEqual(rec.requests, ['GetClusterCredentials:ok']);
  api.destroy();
});

test('no DbGroups parameter when the rule has none', async () => {
  await using stub = await startAwsStub();
  const api = createRedshiftApi({ logger: silentLogger, endpoint: stub.url, credentials });
  stub.reply(gccOk('pw'));
  await api.getClusterCredentials('eu-west-1', { ...request, dbGroups: [], autoCreate: false });
  assert.equal([...(stub.requests[0]?.form.keys() ?? [])].some((k) => k.startsWith('DbGroups')), false);
  assert.equal(stub.requests[0]?.form.get('AutoCreate'), 'false');
  api.destroy();
});

test('error mapping: Throttling, 5xx (one attempt only), AccessDenied (names action + ARN), ClusterNotFound, validation', async () => {
  await using stub = await startAwsStub();
  const rec = recorder();
  const api = createRedshiftApi({ logger: silentLogger, observer: rec.observer, endpoint: stub.url, credentials });

  stub.reply({ status: 400, body: queryError('Throttling', 'Rate exceeded') });
  await assert.rejects(api.getClusterCredentials('eu-west-1', request), failedWith(AuthErrorCode.CredentialsThrottled, /Throttling/));

  stub.requests.length = 0;
  stub.reply({ status: 503, body: queryError('ServiceUnavailable', 'busy') });
  await assert.rejects(api.getClusterCredentials('eu-west-1', request), failedWith(AuthErrorCode.CredentialsUnavailable));
  assert.equal(stub.requests.length, 1, 'maxAttempts: 1 — the SDK does not retry on its own');

  const denial = 'User: arn:aws:iam::123456789012:user/rsproxy is not authorized to perform: redshift:GetClusterCredentials on resource: arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod/alice';
  stub.reply({ status: 403, body: queryError('AccessDenied', denial) });
  await assert.rejects(
    api.getClusterCredentials('eu-west-1', request),
    failedWith(AuthErrorCode.CredentialsFailed, /^redshift:GetClusterCredentials on arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod\/alice failed: AccessDenied \(HTTP 403\)/),
  );

  stub.reply({ status: 404, body: queryError('ClusterNotFound', 'Cluster analytics-prod not found.') });
  await assert.rejects(api.getClusterCredentials('eu-west-1', request), failedWith(AuthErrorCode.CredentialsFailed, /ClusterNotFoundFault/));
  stub.reply({ status: 400, body: queryError('UnsupportedOperation', 'nope') });
  await assert.rejects(api.getClusterCredentials('eu-west-1', request), failedWith(AuthErrorCode.CredentialsFailed, /UnsupportedOperationFault/));
  stub.reply({ status: 400, body: queryError('InvalidParameterValue', 'DbUser is invalid') });
  await assert.rejects(api.getClusterCredentials('eu-west-1', request), failedWith(AuthErrorCode.CredentialsFailed, /InvalidParameterValue/));
  assert.deepEqual(rec.requests, [
    'GetClusterCredentials:throttled',
    'GetClusterCredentials:unavailable',
    'GetClusterCredentials:failed',
    'GetClusterCredentials:failed',
    'GetClusterCredentials:failed',
    'GetClusterCredentials:failed',
  ]);
  api.destroy();
});

test('a network failure is unavailable (retryable)', async () => {
  const stub = await startAwsStub();
  const url = stub.url;
  await stub.close();
  const api = createRedshiftApi({ logger: silentLogger, endpoint: url, credentials });
  await assert.rejects(api.describeClusterEndpoint('eu-west-1', 'analytics-prod'), (err: unknown) => err instanceof AuthError && err.code === AuthErrorCode.CredentialsUnavailable && err.retryable);
  api.destroy();
});

test('a login deadline aborts the request: unavailable, not a hang', async () => {
  await using stub = await startAwsStub();
  const api = createRedshiftApi({ logger: silentLogger, endpoint: stub.url, credentials });
  // The stub answers 500 after the queue, but here the deadline is already (almost) over.
  const started = Date.now();
  await assert.rejects(api.describeClusterEndpoint('eu-west-1', 'c', { deadlineMs: Date.now() + 1 }), failedWith(AuthErrorCode.CredentialsUnavailable));
  assert.ok(Date.now() - started < 2000);
  api.destroy();
});

test('DescribeClusters: endpoint, and a cluster without one is unavailable (57P03)', async () => {
  await using stub = await startAwsStub();
  const api = createRedshiftApi({ logger: silentLogger, endpoint: stub.url, credentials });
  const cluster = (inner: string) => ({ status: 200, body: `<DescribeClustersResponse ${ns}><DescribeClustersResult><Clusters><Cluster><ClusterIdentifier>c</ClusterIdentifier>${inner}</Cluster></Clusters></DescribeClustersResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeClustersResponse>` });
  stub.reply(cluster('<ClusterStatus>available</ClusterStatus><Endpoint><Address>c.example.com</Address><Port>5439</Port></Endpoint>'));
  assert.deepEqual(await api.describeClusterEndpoint('eu-west-1', 'c'), { host: 'c.example.com', port: 5439 });
  assert.equal(stub.requests[0]?.form.get('Action'), 'DescribeClusters');
  assert.equal(stub.requests[0]?.form.get('ClusterIdentifier'), 'c');
  stub.reply(cluster('<ClusterStatus>creating</ClusterStatus>'));
  await assert.rejects(api.describeClusterEndpoint('eu-west-1', 'c'), failedWith(AuthErrorCode.CredentialsUnavailable, /no endpoint yet \(status creating\)/));
  api.destroy();
});

test('AWS_ENDPOINT_URL_REDSHIFT is honoured by the installed SDK (no explicit endpoint)', async () => {
  await using stub = await startAwsStub();
  process.env['AWS_ENDPOINT_URL_REDSHIFT'] = stub.url;
  try {
    const api = createRedshiftApi({ logger: silentLogger, credentials });
    stub.reply(gccOk('pw'));
    const c = await api.getClusterCredentials('eu-west-1', request);
    assert.equal(c.dbUser, 'IAMA:alice');
    assert.equal(stub.requests.length, 1);
    api.destroy();
  } finally {
    delete process.env['AWS_ENDPOINT_URL_REDSHIFT'];
  }
});
