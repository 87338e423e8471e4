import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallCounters, FaultRegistry } from './faults.js';

test('no fault → undefined; throttle 0 → every call throttled', () => {
  const f = new FaultRegistry();
  assert.equal(f.take('GetCredentials'), undefined);
  f.set('GetCredentials', { throttleAbovePerSecond: 0 });
  assert.equal(f.take('GetCredentials')?.throttle, true);
  assert.equal(f.take('DescribeClusters'), undefined);
});

test('throttle above N counts calls in the last second', () => {
  const f = new FaultRegistry();
  f.set('GetClusterCredentials', { throttleAbovePerSecond: 2 });
  assert.deepEqual([1, 2, 3, 4].map(() => f.take('GetClusterCredentials')?.throttle), [false, false, true, true]);
});

test('failTimes applies to the next N calls only', () => {
  const f = new FaultRegistry();
  f.set('GetWorkgroup', { status5xx: 503, latencyMs: 5, failTimes: 2 });
  assert.equal(f.take('GetWorkgroup')?.status5xx, 503);
  assert.equal(f.take('GetWorkgroup')?.latencyMs, 5);
  assert.equal(f.take('GetWorkgroup'), undefined);
});

test('clear removes one or all faults', () => {
  const f = new FaultRegistry();
  f.set('A', { status5xx: 500 });
  f.set('B', { status5xx: 500 });
  f.clear('A');
  assert.equal(f.take('A'), undefined);
  assert.equal(f.take('B')?.status5xx, 500);
  f.clear();
  assert.equal(f.take('B'), undefined);
});

test('counters by operation and outcome', () => {
  const c = new CallCounters();
  c.record('GetCredentials', 'ok');
  c.record('GetCredentials', 'ok');
  c.record('GetCredentials', 'ThrottlingException');
  c.record('GetCredentialsX', 'ok');
  assert.equal(c.get('GetCredentials', 'ok'), 2);
  assert.equal(c.get('GetCredentials'), 3);
  assert.equal(c.total('GetCredentials'), 3);
  assert.deepEqual(c.snapshot(), { 'GetCredentials:ok': 2, 'GetCredentials:ThrottlingException': 1, 'GetCredentialsX:ok': 1 });
  c.reset();
  assert.equal(c.total('GetCredentials'), 0);
});
