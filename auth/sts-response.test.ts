import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { AuthErrorCode, type AuthError } from './errors.js';
import { checkIdentityAllowed, parseStsError, validateStsResponse } from './sts-response.js';
import { testIdentityOptions } from '../testkit/auth-fixtures.js';

const identity = testIdentityOptions();
const ctx = { accessKeyId: 'ASIAEXAMPLEEXAMPLE12', stsRegion: 'eu-west-1' };
const body = (result: Record<string, unknown>, extra = '') =>
  Buffer.from(`{"GetCallerIdentityResponse":{"GetCallerIdentityResult":${JSON.stringify(result)},"ResponseMetadata":{"RequestId":"rid-1"}${extra}}}`);
const good = { Account: '123456789012', Arn: 'arn:aws:sts::123456789012:assumed-role/Analyst/alice', UserId: 'AROAEXAMPLE:alice' };
const invalid = (err: AuthError) => err.code === AuthErrorCode.StsResponseInvalid;

test('a valid answer gives the canonical identity', () => {
  const id = validateStsResponse('application/json; charset=utf-8', body(good), identity, ctx);
  assert.equal(id.canonicalArn, 'arn:aws:iam::123456789012:role/Analyst');
  assert.equal(id.sessionName, 'alice');
  assert.equal(id.stsRequestId, 'rid-1');
  assert.equal(id.accessKeyId, ctx.accessKeyId);
});

test('shape violations are sts_response', () => {
  const cases: [string | undefined, Buffer][] = [
    ['text/html', body(good)],
    [undefined, body(good)],
    ['application/json', Buffer.from('<GetCallerIdentityResponse/>')],
    ['application/json', body({ Account: good.Account, Arn: good.Arn })],
    ['application/json', body({ ...good, Arn: '' })],
    ['application/json', body({ ...good, Extra: 'x' })],
    ['application/json', body(good, ',"GetCallerIdentityResult":{}')],
    ['application/json', Buffer.from(`{"Wrapper":${body(good).toString()}}`)],
    ['application/json', body({ ...good, Account: '12345678901' })],
    ['application/json', body({ ...good, Account: 123456789012 })],
    ['application/json', body({ ...good, Account: '210987654321' })],
    ['application/json', body({ ...good, Arn: 'arn:aws-cn:sts::123456789012:assumed-role/Analyst/alice' })],
    ['application/json', body({ ...good, UserId: 'AIDAEXAMPLE' })],
    ['application/json', body({ ...good, UserId: 'AROAEXAMPLE:bob' })],
    ['application/json', body({ ...good, Arn: 'arn:aws:sts::123456789012:assumed-role/OnlyRole' })],
    ['application/json', Buffer.from(body(good).toString().replace('"Account":"123456789012"', '"Account":"123456789012","\\u0041ccount":"999999999999"'))],
    ['application/json', Buffer.from([0xff, 0xfe])],
  ];
  for (const [ct, b] of cases) assert.throws(() => validateStsResponse(ct, b, identity, ctx), invalid, b.toString());
});

test('root and federated users need allowRootAndFederated; accounts need the allow-list', () => {
  const root = body({ Account: '123456789012', Arn: 'arn:aws:iam::123456789012:root', UserId: '123456789012' });
  assert.throws(() => validateStsResponse('application/json', root, identity, ctx), (e: AuthError) => e.code === AuthErrorCode.PrincipalTypeDenied);
  const id = validateStsResponse('application/json', root, { ...identity, allowRootAndFederated: true }, ctx);
  assert.equal(id.principalType, 'root');
  assert.throws(() => checkIdentityAllowed({ ...id, accountId: '210987654321' }, { ...identity, allowRootAndFederated: true }), (e: AuthError) => e.code === AuthErrorCode.AccountNotAllowed);
});

test('error codes are read from JSON and XML', () => {
  assert.deepEqual(parseStsError(Buffer.from('{"Error":{"Code":"Throttling","Message":"Rate exceeded"},"RequestId":"r1"}')), { code: 'Throttling', requestId: 'r1' });
  assert.deepEqual(
    parseStsError(Buffer.from('<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code></Error><RequestId>r2</RequestId></ErrorResponse>')),
    { code: 'SignatureDoesNotMatch', requestId: 'r2' },
  );
  assert.deepEqual(parseStsError(Buffer.from('garbage')), {});
});
