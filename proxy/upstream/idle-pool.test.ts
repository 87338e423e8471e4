import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IdlePool } from './idle-pool.js';
import type { IdleCloseReason, IdlePoolLimits, IdleSessionInfo } from './idle-pool.js';

const limits: IdlePoolLimits = { maxIdlePerKey: 2, maxIdleTotal: 3, idleTimeoutSeconds: 60, maxAgeSeconds: 3600, checkAfterIdleSeconds: 30 };

function setup(over: Partial<IdlePoolLimits> = {}) {
  const clock = { t: 1_000_000, nowMs() { return this.t; } };
  const closed: Array<[string, IdleCloseReason]> = [];
  const pool = new IdlePool<string>({ ...limits, ...over, clock, close: (s, reason) => closed.push([s, reason]) });
  const info = (key: string, extra: Partial<IdleSessionInfo> = {}): IdleSessionInfo => ({
    key,
    target: 'h:5439',
    loginAtMs: clock.t,
    hardExpiryMs: clock.t + 10 * 3600_000,
    generation: pool.generation,
    ...extra,
  });
  return { clock, closed, pool, info };
}

test('hands out newest first, only for the same key', () => {
  const { pool, info, clock } = setup({ maxIdleTotal: 10 });
  pool.checkIn('a1', info('A'));
  clock.t += 1000;
  pool.checkIn('a2', info('A'));
  pool.checkIn('b1', info('B'));
  assert.equal(pool.checkOut('C'), undefined);
  assert.equal(pool.checkOut('A')?.session, 'a2');
  assert.equal(pool.checkOut('A')?.session, 'a1');
  assert.equal(pool.checkOut('A'), undefined);
  assert.equal(pool.checkOut('B')?.session, 'b1');
  assert.equal(pool.size, 0);
});

test('maxIdlePerKey: the oldest of that key is closed as evicted', () => {
  const { pool, info, closed } = setup({ maxIdleTotal: 10 });
  for (const s of ['a1', 'a2', 'a3']) pool.checkIn(s, info('A'));
  assert.deepEqual(closed, [['a1', 'evicted']]);
  assert.equal(pool.sizeOf('A'), 2);
  const zero = setup({ maxIdlePerKey: 0 });
  assert.deepEqual(zero.pool.checkIn('x', zero.info('A')), { isKept: false, reason: 'evicted' });
  assert.deepEqual(zero.closed, [['x', 'evicted']]);
});

test('maxIdleTotal: the least recently checked-in session of any key is closed as evicted', () => {
  const { pool, info, closed, clock } = setup();
  pool.checkIn('a1', info('A'));
  clock.t += 1;
  pool.checkIn('b1', info('B'));
  clock.t += 1;
  pool.checkIn('c1', info('C'));
  clock.t += 1;
  assert.equal(pool.checkOut('A')?.session, 'a1');
  pool.checkIn('a1', info('A'));
  pool.checkIn('d1', info('D'));
  assert.deepEqual(closed, [['b1', 'evicted']], 'a1 was used again, so b1 is the least recently used');
  assert.equal(pool.size, 3);
});

test('idleTimeoutSeconds: the sweeper closes sessions idle that long, not younger ones', () => {
  const { pool, info, closed, clock } = setup();
  pool.checkIn('old', info('A'));
  clock.t += 30_000;
  pool.checkIn('young', info('B'));
  clock.t += 29_999;
  assert.equal(pool.sweep(), 0);
  clock.t += 1;
  assert.equal(pool.sweep(), 1);
  assert.deepEqual(closed, [['old', 'idle_timeout']]);
  assert.equal(pool.checkOut('B')?.session, 'young');
});

test('maxAgeSeconds: refused at check-in, closed at hand-out and by the sweeper', () => {
  const { pool, info, closed, clock } = setup({ maxAgeSeconds: 100, idleTimeoutSeconds: 1000 });
  const loginAtMs = clock.t;
  clock.t += 100_000;
  assert.deepEqual(pool.checkIn('late', info('A', { loginAtMs })), { isKept: false, reason: 'max_age' });
  clock.t -= 50_000;
  pool.checkIn('s1', info('A', { loginAtMs }));
  pool.checkIn('s2', info('A', { loginAtMs: loginAtMs + 40_000 }));
  clock.t += 50_000;
  assert.equal(pool.checkOut('A')?.session, 's2', 's2 is still young');
  pool.checkIn('s2', info('A', { loginAtMs: loginAtMs + 40_000 }));
  assert.equal(pool.sweep(), 1);
  assert.deepEqual(closed, [['late', 'max_age'], ['s1', 'max_age']]);
  clock.t += 40_000;
  assert.equal(pool.checkOut('A'), undefined);
  assert.deepEqual(closed.at(-1), ['s2', 'max_age']);
});

test('the per-session hard expiry (credentials, maxSessionSeconds) bounds hand-out and check-in too', () => {
  const { pool, info, closed, clock } = setup();
  pool.checkIn('s', info('A', { hardExpiryMs: clock.t + 5000 }));
  clock.t += 5000;
  assert.equal(pool.checkOut('A'), undefined);
  assert.deepEqual(closed, [['s', 'max_age']]);
  assert.deepEqual(pool.checkIn('t', info('A', { hardExpiryMs: clock.t })), { isKept: false, reason: 'max_age' });
});

test('checkAfterIdleSeconds: a session idle longer than that must be probed', () => {
  const { pool, info, clock } = setup();
  pool.checkIn('s', info('A'));
  clock.t += 30_000;
  assert.deepEqual(pool.checkOut('A'), { session: 's', info: info('A', { loginAtMs: clock.t - 30_000, hardExpiryMs: clock.t - 30_000 + 36_000_000 }), needsProbe: false, idleMs: 30_000 });
  pool.checkIn('s', info('A'));
  clock.t += 30_001;
  assert.equal(pool.checkOut('A')?.needsProbe, true);
});

test('reload closes everything idle and refuses sessions logged in under the older generation', () => {
  const { pool, info, closed } = setup();
  const before = info('A');
  pool.checkIn('s1', before);
  assert.equal(pool.reload(), 1);
  assert.deepEqual(closed, [['s1', 'reload']]);
  assert.deepEqual(pool.checkIn('s2', before), { isKept: false, reason: 'reload' });
  assert.deepEqual(pool.checkIn('s3', info('A')), { isKept: true });
});

test('closeTarget closes only that endpoint; closeAll closes everything with the given reason', () => {
  const { pool, info, closed } = setup({ maxIdleTotal: 10 });
  pool.checkIn('x1', info('A', { target: 'x:1' }));
  pool.checkIn('y1', info('A', { target: 'y:1' }));
  pool.checkIn('x2', info('B', { target: 'x:1' }));
  assert.equal(pool.closeTarget('x:1'), 2);
  assert.deepEqual(closed, [['x1', 'evicted'], ['x2', 'evicted']]);
  assert.equal(pool.closeAll('shutdown'), 1);
  assert.deepEqual(closed.at(-1), ['y1', 'shutdown']);
  assert.equal(pool.size, 0);
});

test('discard lets go of one idle session; a session cannot be checked in twice', () => {
  const { pool, info, closed } = setup();
  pool.checkIn('s', info('A'));
  assert.throws(() => pool.checkIn('s', info('A')), /twice/);
  assert.equal(pool.discard('s', 'upstream_closed'), true);
  assert.equal(pool.discard('s', 'upstream_closed'), false);
  assert.deepEqual(closed, [['s', 'upstream_closed']]);
});

test('property: under random operations the bounds hold, keys never mix, and every session is closed at most once', () => {
  type Op =
    | { op: 'in'; key: number; ageS: number; expiresInS: number; staleGen: boolean }
    | { op: 'out'; key: number }
    | { op: 'tick'; s: number }
    | { op: 'sweep' }
    | { op: 'reload' }
    | { op: 'target'; key: number }
    | { op: 'discard' }
    | { op: 'all' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('in' as const), key: fc.nat(3), ageS: fc.nat(200), expiresInS: fc.nat(300), staleGen: fc.boolean() }),
    fc.record({ op: fc.constant('out' as const), key: fc.nat(3) }),
    fc.record({ op: fc.constant('tick' as const), s: fc.nat(90) }),
    fc.constant({ op: 'sweep' as const }),
    fc.constant({ op: 'reload' as const }),
    fc.record({ op: fc.constant('target' as const), key: fc.nat(3) }),
    fc.constant({ op: 'discard' as const }),
    fc.constant({ op: 'all' as const }),
  );
  const bounds = fc.record({ maxIdlePerKey: fc.nat(4), maxIdleTotal: fc.nat(6), idleTimeoutSeconds: fc.integer({ min: 1, max: 120 }), maxAgeSeconds: fc.integer({ min: 1, max: 200 }) });
  fc.assert(
    fc.property(bounds, fc.array(op, { maxLength: 80 }), (b, ops) => {
      const clock = { t: 0, nowMs() { return this.t; } };
      const closedCount = new Map<string, number>();
      const meta = new Map<string, IdleSessionInfo>();
      const pool = new IdlePool<string>({ ...b, checkAfterIdleSeconds: 30, clock, close: (s) => closedCount.set(s, (closedCount.get(s) ?? 0) + 1) });
      let n = 0;
      let lastIdle: string | undefined;
      for (const o of ops) {
        switch (o.op) {
          case 'in': {
            const s = `s${n++}`;
            const info = { key: `k${o.key}`, target: `t${o.key % 2}`, loginAtMs: clock.t - o.ageS * 1000, hardExpiryMs: clock.t + o.expiresInS * 1000, generation: o.staleGen ? pool.generation - 1 : pool.generation };
            meta.set(s, info);
            if (pool.checkIn(s, info).isKept) lastIdle = s;
            break;
          }
          case 'out': {
            const got = pool.checkOut(`k${o.key}`);
            if (got !== undefined) {
              assert.equal(got.info.key, `k${o.key}`);
              assert.equal(closedCount.get(got.session), undefined, 'a closed session was handed out');
              assert.ok(clock.t - got.info.loginAtMs < b.maxAgeSeconds * 1000 && clock.t < got.info.hardExpiryMs, 'an expired session was handed out');
              assert.equal(got.info.generation, pool.generation);
              closedCount.set(got.session, 1); // handed out: never expected back from the pool
            }
            break;
          }
          case 'tick':
            clock.t += o.s * 1000;
            break;
          case 'sweep':
            pool.sweep();
            break;
          case 'reload':
            pool.reload();
            break;
          case 'target':
            pool.closeTarget(`t${o.key % 2}`);
            break;
          case 'discard':
            if (lastIdle !== undefined) pool.discard(lastIdle, 'upstream_closed');
            break;
          case 'all':
            pool.closeAll('shutdown');
            break;
        }
        assert.ok(pool.size <= b.maxIdleTotal, `size ${pool.size} > ${b.maxIdleTotal}`);
        for (let k = 0; k <= 3; k++) assert.ok(pool.sizeOf(`k${k}`) <= b.maxIdlePerKey);
        for (const [s, count] of closedCount) assert.ok(count <= 1, `${s} closed ${count} times`);
      }
      // Everything ever checked in is now closed, handed out, or still idle — never lost.
      const idle = n - closedCount.size;
      assert.equal(idle, pool.size);
    }),
    { numRuns: 500 },
  );
});
