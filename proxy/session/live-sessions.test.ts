import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aliceIdentity } from '../../testkit/auth-fixtures.js';
import { shuttingDown } from '../errors/proxy-error.js';
import type { ProxyError } from '../errors/proxy-error.js';
import { LiveSessions, liveSession } from './live-sessions.js';
import type { LiveSessionSource } from './live-sessions.js';
import type { SessionEndReason } from '../telemetry/observer.js';

function source(connectionId: string, startedAtMs: number, over: Partial<LiveSessionSource> = {}) {
  const counters = { clientToUpstreamBytes: 0, upstreamToClientBytes: 0 };
  const ended: Array<{ error: ProxyError; reason: SessionEndReason }> = [];
  let address = '127.0.0.1';
  const src: LiveSessionSource = {
    connectionId,
    clientAddress: () => address,
    identity: aliceIdentity,
    user: 'alice',
    database: 'dev',
    dbUser: 'IAMA:alice',
    startedAtMs,
    counters,
    end: (error, reason) => ended.push({ error, reason }),
    ...over,
  };
  return { src, counters, ended, setAddress: (a: string) => (address = a) };
}

test('list(): the contract fields only, oldest first, with the live byte counters and client address at each call', () => {
  const reg = new LiveSessions();
  const a = source('aaaaaaaaaaaa', Date.UTC(2026, 0, 2));
  const b = source('bbbbbbbbbbbb', Date.UTC(2026, 0, 1));
  reg.add(liveSession(a.src));
  reg.add(liveSession(b.src));
  const [first, second] = reg.list();
  assert.deepEqual(second, {
    connectionId: 'aaaaaaaaaaaa',
    clientAddress: '127.0.0.1',
    identity: 'arn:aws:iam::123456789012:role/Analyst',
    dbUser: 'IAMA:alice',
    database: 'dev',
    startedAt: '2026-01-02T00:00:00.000Z',
    clientToUpstreamBytes: 0,
    upstreamToClientBytes: 0,
    reused: false,
  });
  assert.equal(first?.connectionId, 'bbbbbbbbbbbb');
  a.counters.clientToUpstreamBytes = 17;
  a.counters.upstreamToClientBytes = 4096;
  a.setAddress('10.1.2.3');
  const again = reg.list().find((s) => s.connectionId === 'aaaaaaaaaaaa');
  assert.equal(again?.clientToUpstreamBytes, 17);
  assert.equal(again?.upstreamToClientBytes, 4096);
  assert.equal(again?.clientAddress, '10.1.2.3');
  const json = JSON.stringify(reg.list());
  for (const secret of [aliceIdentity.accessKeyId, aliceIdentity.userId]) assert.ok(!json.includes(secret), 'only the canonical ARN of the identity is shown');
});

test('get, end, remove: an entry ends through its session and leaves only when that same entry is removed', () => {
  const reg = new LiveSessions();
  const a = source('aaaaaaaaaaaa', 1);
  const entry = liveSession(a.src);
  reg.add(entry);
  assert.equal(reg.size, 1);
  reg.get('aaaaaaaaaaaa')?.end(shuttingDown(), 'admin');
  assert.equal(a.ended[0]?.reason, 'admin');
  assert.equal(reg.get('bbbbbbbbbbbb'), undefined);
  reg.remove(liveSession(source('aaaaaaaaaaaa', 2).src));
  assert.equal(reg.size, 1, 'another entry with the same id does not remove this one');
  for (const s of reg.all()) reg.remove(s);
  assert.equal(reg.size, 0);
  assert.deepEqual(reg.list(), []);
});

test('a session without a verified identity (test authenticators) shows an empty identity', () => {
  const reg = new LiveSessions();
  reg.add(liveSession(source('cccccccccccc', 1, { identity: undefined }).src));
  assert.equal(reg.list()[0]?.identity, '');
  assert.equal(reg.get('cccccccccccc')?.identity, undefined);
});

test('revoke: ends every session the check refuses, and keeps refusing sessions registered after it', () => {
  const revoked: string[] = [];
  const reg = new LiveSessions((s) => revoked.push(s.connectionId));
  reg.add(liveSession(source('aaaaaaaaaaaa', 1).src));
  reg.add(liveSession(source('bbbbbbbbbbbb', 2, { user: 'bob' }).src));
  assert.deepEqual(revoked, [], 'no check before the first reload');
  assert.equal(reg.revoke((s) => s.user === 'bob'), 1);
  assert.deepEqual(revoked, ['aaaaaaaaaaaa']);
  // A login mapped under the old rules that completes after the reload.
  reg.add(liveSession(source('cccccccccccc', 3).src));
  reg.add(liveSession(source('dddddddddddd', 4, { user: 'bob' }).src));
  assert.deepEqual(revoked, ['aaaaaaaaaaaa', 'cccccccccccc']);
  assert.equal(reg.revoke(() => true), 0);
  reg.add(liveSession(source('eeeeeeeeeeee', 5).src));
  assert.equal(revoked.length, 2, 'a later reload that admits everyone stops refusing');
});
