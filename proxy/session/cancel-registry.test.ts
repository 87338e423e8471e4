import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceRateLimiter } from '../server/source-rate-limiter.js';
import { CancelRegistry } from './cancel-registry.js';
import type { CancelResult } from '../telemetry/observer.js';
import { nullSessionObserver } from '../telemetry/observer.js';
import { silentLogger } from '../../auth/types.js';
import type { Logger, UpstreamTarget } from '../../auth/types.js';
import { captureLogger, type LogLine } from '../../testkit/capture-logger.js';

const target: UpstreamTarget = { database: 'dev', host: '10.0.0.1', port: 5439, dbName: 'dev', engine: 'redshift', tlsMode: 'verify-full' };

function setup(opts: { failSend?: boolean; ratePerSecond?: number; maxTrackedSources?: number } = {}) {
  let now = 1_000_000;
  const sent: Array<{ host: string; pid: number; key: string; logger: Logger | undefined }> = [];
  const results: CancelResult[] = [];
  const registry = new CancelRegistry({
    sendUpstreamCancel: async (t, pid, key, _timeoutMs, logger) => {
      if (opts.failSend === true) throw new Error('connect ECONNREFUSED');
      sent.push({ host: t.host, pid, key: key.toString('hex'), logger });
    },
    logger: silentLogger,
    observer: { ...nullSessionObserver, cancel: (r) => results.push(r) },
    limiter: new SourceRateLimiter({ ratePerSecond: opts.ratePerSecond ?? 10, burst: opts.ratePerSecond ?? 10, maxTrackedSources: opts.maxTrackedSources ?? 10_000, nowMs: () => now }),
  });
  return { registry, sent, results, advance: (ms: number) => (now += ms) };
}

test('issue: pid in 1…2^31−1, 4-byte key, unique pids', () => {
  const { registry } = setup();
  const pids = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const k = registry.issue(target, i, Buffer.from([0, 0, 0, i & 0xff]));
    assert.ok(k.pid >= 1 && k.pid <= 2 ** 31 - 1);
    assert.equal(k.key.length, 4);
    pids.add(k.pid);
  }
  assert.equal(pids.size, 200);
  assert.equal(registry.size, 200);
});

test('exact key forwards the upstream pid/key to the right target', async () => {
  const { registry, sent, results } = setup();
  const k = registry.issue(target, 777, Buffer.from('0a0b0c0d', 'hex'));
  assert.equal(await registry.handle(k.pid, k.key, 16, '1.2.3.4'), 'forwarded');
  assert.deepEqual(sent.map(({ logger: _, ...rest }) => rest), [{ host: '10.0.0.1', pid: 777, key: '0a0b0c0d' }]);
  assert.deepEqual(results, ['forwarded']);
});

test('a forwarded cancel is logged on the cancelled session\'s logger (its connection id), which also goes to the upstream cancel', async () => {
  const { registry, sent } = setup();
  const lines: LogLine[] = [];
  const sessionLogger = captureLogger(lines);
  const k = registry.issue(target, 9, Buffer.from('01020304', 'hex'), sessionLogger);
  assert.equal(await registry.handle(k.pid, k.key, 16, '10.9.8.7'), 'forwarded');
  assert.equal(sent[0]?.logger, sessionLogger);
  assert.deepEqual(lines.map((l) => [l.level, l.obj]), [['info', { event: 'cancel_forwarded', source: '10.9.8.7' }]]);
});

test('a failed forward is logged on the cancelled session\'s logger as well', async () => {
  const { registry } = setup({ failSend: true });
  const lines: LogLine[] = [];
  const k = registry.issue(target, 9, Buffer.from('01020304', 'hex'), captureLogger(lines));
  assert.equal(await registry.handle(k.pid, k.key, 16, 'a'), 'error');
  assert.deepEqual(lines.map((l) => [l.level, l.obj['event']]), [['warn', 'cancel_forward_failed']]);
});

test('unknown pid, wrong key, wrong length, released entry → unknown_key, nothing sent', async () => {
  const { registry, sent } = setup({ ratePerSecond: 100 });
  const k = registry.issue(target, 1, Buffer.from('00000001', 'hex'));
  const wrong = Buffer.from(k.key);
  wrong[0] = wrong[0]! ^ 1;
  assert.equal(await registry.handle(k.pid, wrong, 16, 'a'), 'unknown_key');
  assert.equal(await registry.handle(k.pid === 1 ? 2 : 1, k.key, 16, 'a'), 'unknown_key');
  assert.equal(await registry.handle(k.pid, Buffer.concat([k.key, Buffer.alloc(28)]), 44, 'a'), 'unknown_key');
  assert.equal(await registry.handle(k.pid, k.key.subarray(0, 3), 15, 'a'), 'unknown_key');
  k.release();
  k.release();
  assert.equal(await registry.handle(k.pid, k.key, 16, 'a'), 'unknown_key');
  assert.equal(registry.size, 0);
  assert.deepEqual(sent, []);
});

test('rate limit per source address: 10 per second, refills over time, other addresses unaffected', async () => {
  const { registry, advance } = setup();
  const k = registry.issue(target, 1, Buffer.alloc(4));
  const got: CancelResult[] = [];
  for (let i = 0; i < 12; i++) got.push(await registry.handle(k.pid, Buffer.alloc(4, 9), 16, '9.9.9.9'));
  assert.equal(got.filter((r) => r === 'unknown_key').length, 10);
  assert.equal(got.filter((r) => r === 'rate_limited').length, 2);
  // Even the right key is refused while limited (no brute-force oracle).
  assert.equal(await registry.handle(k.pid, k.key, 16, '9.9.9.9'), 'rate_limited');
  assert.equal(await registry.handle(k.pid, k.key, 16, '8.8.8.8'), 'forwarded');
  advance(200);
  assert.equal(await registry.handle(k.pid, k.key, 16, '9.9.9.9'), 'forwarded');
});

test('the source-address map stays bounded', async () => {
  const { registry } = setup({ maxTrackedSources: 5 });
  for (let i = 0; i < 100; i++) await registry.handle(1, Buffer.alloc(4), 16, `10.0.0.${i}`);
  assert.ok(registry.trackedSources <= 5);
});

test('upstream failure → error result, no throw', async () => {
  const { registry, results } = setup({ failSend: true });
  const k = registry.issue(target, 1, Buffer.alloc(4));
  assert.equal(await registry.handle(k.pid, k.key, 16, 'x'), 'error');
  assert.deepEqual(results, ['error']);
});
