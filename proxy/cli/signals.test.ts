import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextShutdownSignal, onSignals } from './signals.js';

test('onSignals calls the handler of each signal until unsubscribed', () => {
  const seen: string[] = [];
  const before = process.listenerCount('SIGHUP');
  const off = onSignals({ SIGHUP: (s) => seen.push(s), SIGUSR2: (s) => seen.push(s) });
  process.emit('SIGHUP', 'SIGHUP');
  process.emit('SIGUSR2', 'SIGUSR2');
  off();
  assert.equal(process.listenerCount('SIGHUP'), before);
  process.emit('SIGUSR2', 'SIGUSR2');
  assert.deepEqual(seen, ['SIGHUP', 'SIGUSR2']);
});

test('nextShutdownSignal resolves with the first of SIGINT/SIGTERM and leaves no listener behind', async () => {
  const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
  const next = nextShutdownSignal();
  assert.equal(process.listenerCount('SIGTERM'), before[1]! + 1);
  process.emit('SIGTERM', 'SIGTERM');
  assert.equal(await next, 'SIGTERM');
  assert.deepEqual([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')], before);
});
