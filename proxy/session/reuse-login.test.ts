import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as tls from 'node:tls';
import type { AdmittedLogin, AuthResult, Identity } from '../../auth/types.js';
import type { PooledUpstream, UpstreamReusePort } from '../upstream/reuse-pool.js';
import { ReuseAttempt, reuseKeyOf } from './reuse-login.js';
import { classifyStartupParameters } from './startup-params.js';

const identity = (arn: string): Identity => ({ partition: 'aws', accountId: '123456789012', canonicalArn: arn, arn, principalType: 'assumed-role', userId: 'AROA:x', accessKeyId: 'ASIA', stsRegion: 'eu-west-1' });
const target = { database: 'dev', host: 'h', port: 5439, dbName: 'dev', engine: 'redshift' as const, tlsMode: 'verify-full' as const };
const admitted = (arn = 'arn:aws:iam::123456789012:role/A', extra: Partial<AdmittedLogin> = {}): AdmittedLogin => ({ identity: identity(arn), target, dbUser: 'alice', dbGroups: ['a', 'b'], ...extra });
const params = (pairs: Array<[string, string]> = []) => classifyStartupParameters(0, [['user', 'alice'], ['database', 'dev'], ...pairs]);

test('the reuse key separates identities, groups, roles, targets and forwarded startup parameters', () => {
  const base = reuseKeyOf(admitted(), params());
  assert.equal(reuseKeyOf(admitted(), params()), base);
  assert.equal(reuseKeyOf(admitted(undefined, { dbGroups: ['a', 'b'] }), params()), base);
  const others = [
    reuseKeyOf(admitted('arn:aws:iam::123456789012:role/B'), params()),
    reuseKeyOf(admitted(undefined, { dbGroups: ['a'] }), params()),
    reuseKeyOf(admitted(undefined, { assumedRole: { roleArn: 'arn:aws:iam::123456789012:role/R', sessionName: 'alice' } }), params()),
    reuseKeyOf(admitted(undefined, { target: { ...target, port: 5440 } }), params()),
    reuseKeyOf(admitted(), params([['application_name', 'psql']])),
    reuseKeyOf(admitted(undefined, { dbUser: 'bob' }), params()),
  ];
  for (const k of others) assert.notEqual(k, base);
  assert.equal(new Set(others).size, others.length);
});

function fakePort(pooled: PooledUpstream | undefined, enabled = true): UpstreamReusePort & { keys: string[] } {
  const keys: string[] = [];
  return {
    keys,
    isEnabledFor: () => enabled,
    generation: 7,
    checkOut: async (key) => (keys.push(key), pooled),
    checkIn: () => {},
    countDiscard: () => {},
    wrapLogin: (l) => l,
  };
}

test("ReuseAttempt: looks once; a hit replays the first login's ParameterStatus; a miss ticket carries key, generation and the earliest expiry", async () => {
  const socket = {} as tls.TLSSocket;
  const ps = [Buffer.from('S-one')];
  const pooled: PooledUpstream = { socket, parameterStatus: ps, backendKey: { pid: 9, key: Buffer.alloc(4) }, loginUser: 'IAMA:alice', target, info: { key: 'k', target: 'h:5439', loginAtMs: 0, hardExpiryMs: 1, generation: 7 } };
  const hitPort = fakePort(pooled);
  const hit = new ReuseAttempt(hitPort, params(), 0);
  assert.equal(await hit.onAdmitted(admitted()), true);
  assert.equal(await hit.onAdmitted(admitted()), false, 'a retry after an upstream refusal never takes a second session');
  assert.equal(hitPort.keys.length, 1);
  const taken = hit.takeHit();
  assert.equal(taken, pooled);
  const { upstream, ticket } = hit.hitLogin(pooled);
  assert.deepEqual(upstream.parameterStatus, ps);
  assert.equal(upstream.readyForQuery.toString('latin1', 5), 'I');
  assert.equal(ticket.isReused, true);

  const missPort = fakePort(undefined);
  const miss = new ReuseAttempt(missPort, params(), 100);
  assert.equal(await miss.onAdmitted(admitted()), false);
  const result = { upstreamUser: 'IAMA:alice', target, expiresAtMs: 50_000 } as AuthResult;
  const fresh = miss.freshTicket(result, { socket, parameterStatus: ps, notices: [], readyForQuery: Buffer.alloc(0), backendKey: { pid: 1, key: Buffer.alloc(4) }, leftover: Buffer.alloc(0) }, 1000);
  assert.equal(fresh?.login.info.generation, 7);
  assert.equal(fresh?.login.info.hardExpiryMs, 50_000, 'credentials expire before login + maxSessionSeconds');
  assert.equal(fresh?.login.info.key, missPort.keys[0]);

  const off = new ReuseAttempt(fakePort(pooled, false), params(), 0);
  assert.equal(await off.onAdmitted(admitted()), false);
  assert.equal(off.freshTicket(result, upstream, 0), undefined, 'reuse off for that database: no ticket, so no tracker');
});
