import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CapturedStatement } from '../audit/index.js';
import { StatementGate, type StatementGateSink } from './statement-gate.js';

const message = (type: string, body: Buffer): Buffer => {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
};
const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8');
const query = (sql: string) => message('Q', cstr(sql));
const parse = (sql: string) => message('P', Buffer.concat([cstr(''), cstr(sql), Buffer.from([0, 0])]));
const bind = () => message('B', Buffer.concat([cstr(''), cstr(''), Buffer.from([0, 0, 0, 0, 0, 0])]));
const sync = () => message('S', Buffer.alloc(0));

interface Harness {
  gate: StatementGate;
  out: Buffer[];
  statements: CapturedStatement[];
  pending: Array<(proceed: boolean) => void>;
  events: string[];
  refused: number;
  full: { value: boolean };
}

/** `answers` makes the recorder answer at once (synchronously), in turn; once they run out it answers when the test says (h.pending). */
function harness(answers: boolean[] = []): Harness {
  const h: Harness = { out: [], statements: [], pending: [], events: [], refused: 0, full: { value: false } } as unknown as Harness;
  h.gate = new StatementGate(
    (s, done) => {
      h.statements.push(s);
      const now = answers.shift();
      if (now === undefined) h.pending.push(done);
      else done(now);
    },
    () => h.refused++,
  );
  const sink: StatementGateSink = {
    forward: (b) => {
      h.out.push(Buffer.from(b));
      return !h.full.value;
    },
    pauseClient: () => h.events.push('pause'),
    resumeClient: () => h.events.push('resume'),
    isOpen: () => true,
  };
  h.gate.bind(sink);
  return h;
}

const tick = () => new Promise((r) => setImmediate(r));

test('a Query is held until its record is written; what came after follows it, bytes in order', async () => {
  const h = harness();
  const stream = Buffer.concat([sync(), query('SELECT 1'), bind(), sync()]);
  // Split at awkward places: inside a header and inside the Query.
  h.gate.feed(stream.subarray(0, 3));
  h.gate.feed(stream.subarray(3, 12));
  h.gate.feed(stream.subarray(12));
  assert.deepEqual(Buffer.concat(h.out), sync(), 'only what precedes the Query went on');
  assert.deepEqual(h.statements, [{ protocol: 'simple', text: 'SELECT 1' }]);
  assert.ok(h.gate.isHolding);
  h.pending.shift()!(true);
  await tick();
  assert.deepEqual(Buffer.concat(h.out), stream, 'everything, byte for byte, in order');
  assert.equal(h.gate.isHolding, false);
  assert.deepEqual(h.events, [], 'a record that lands soon does not pause the client');
});

test('Parse is captured as extended; chunks arriving while a record is pending queue behind it', async () => {
  const h = harness();
  const first = Buffer.concat([parse('SELECT $1::int'), bind(), sync()]);
  const second = Buffer.concat([parse("SELECT 'x'"), sync()]);
  h.gate.feed(first);
  h.gate.feed(second);
  assert.equal(h.out.length, 0);
  h.pending.shift()!(true);
  await tick();
  assert.deepEqual(h.statements.map((s) => s.protocol), ['extended', 'extended']);
  assert.deepEqual(Buffer.concat(h.out), first, 'the second Parse waits for its own record');
  h.pending.shift()!(true);
  await tick();
  assert.deepEqual(Buffer.concat(h.out), Buffer.concat([first, second]));
});

test('refused: the statement and everything after it are never forwarded, and the session is told once', async () => {
  const h = harness();
  h.gate.feed(Buffer.concat([query('DROP TABLE t'), query('SELECT 2')]));
  h.pending.shift()!(false);
  await tick();
  h.gate.feed(query('SELECT 3'));
  assert.equal(h.out.length, 0);
  assert.equal(h.refused, 1);
  assert.equal(h.statements.length, 1);
});

test('other messages stream through without waiting for their end (a large CopyData is not buffered)', () => {
  const h = harness();
  const copy = message('d', Buffer.alloc(100_000, 7));
  h.gate.feed(copy.subarray(0, 1000));
  assert.equal(Buffer.concat(h.out).length, 1000);
  h.gate.feed(copy.subarray(1000));
  assert.deepEqual(Buffer.concat(h.out), copy);
  assert.equal(h.statements.length, 0);
});

test('backpressure: a full upstream pauses the client until drain', () => {
  const h = harness();
  h.full.value = true;
  h.gate.feed(sync());
  assert.deepEqual(h.events, ['pause']);
  h.gate.feed(sync());
  assert.deepEqual(h.events, ['pause'], 'paused once');
  h.full.value = false;
  h.gate.onUpstreamDrain();
  assert.deepEqual(h.events, ['pause', 'resume']);
});

test('backpressure: the client is paused only once more than the limit queues behind a pending record, and resumed when it drains', async () => {
  const h = harness();
  const gate = new StatementGate((s, done) => (h.statements.push(s), h.pending.push(done)), () => h.refused++, 1000);
  gate.bind({ forward: (b) => (h.out.push(Buffer.from(b)), true), pauseClient: () => h.events.push('pause'), resumeClient: () => h.events.push('resume'), isOpen: () => true });
  gate.feed(query('SELECT 1'));
  gate.feed(message('d', Buffer.alloc(600)));
  assert.deepEqual(h.events, [], '605 bytes queued: under the limit');
  gate.feed(message('d', Buffer.alloc(600)));
  assert.deepEqual(h.events, ['pause'], '1,210 bytes queued: over it');
  gate.onUpstreamDrain();
  assert.deepEqual(h.events, ['pause'], 'a drain does not resume while the queue is over the limit');
  h.pending.shift()!(true);
  await tick();
  assert.deepEqual(h.events, ['pause', 'resume']);
  assert.equal(Buffer.concat(h.out).length, query('SELECT 1').length + 2 * 605);
});

test('answered at once: the statements go on in order with the bytes around them, with no pause', () => {
  const h = harness([true, true]);
  const stream = Buffer.concat([query('SELECT 1'), parse('SELECT $1'), bind(), sync()]);
  h.gate.feed(stream);
  assert.deepEqual(Buffer.concat(h.out), stream);
  assert.deepEqual(h.events, []);
  assert.deepEqual(h.statements.map((s) => s.protocol), ['simple', 'extended']);
  assert.equal(h.gate.isHolding, false);
});

test('answered at once, then one that must wait: bytes up to it go on, the rest waits for its record', async () => {
  const h = harness([true]);
  h.gate.feed(Buffer.concat([query('SELECT 1'), query('SELECT 2'), sync()]));
  assert.deepEqual(h.out, [query('SELECT 1')]);
  h.pending.shift()!(true);
  await tick();
  assert.deepEqual(Buffer.concat(h.out), Buffer.concat([query('SELECT 1'), query('SELECT 2'), sync()]));
  assert.deepEqual(h.events, []);
});

test('refused at once: what came before goes on, the statement and all after it never do, the session is told once', () => {
  const h = harness([true, false]);
  h.gate.feed(Buffer.concat([sync(), query('SELECT 1'), query('DROP TABLE t'), query('SELECT 3')]));
  h.gate.feed(query('SELECT 4'));
  assert.deepEqual(Buffer.concat(h.out), Buffer.concat([sync(), query('SELECT 1')]));
  assert.equal(h.refused, 1);
  assert.equal(h.statements.length, 2);
});

test('answered at once across chunk boundaries: a Query split in three goes on whole once its last byte came', () => {
  const h = harness([true]);
  const q = query('SELECT 42');
  h.gate.feed(q.subarray(0, 2));
  h.gate.feed(q.subarray(2, 9));
  assert.equal(h.out.length, 0);
  h.gate.feed(q.subarray(9));
  assert.deepEqual(Buffer.concat(h.out), q);
  assert.deepEqual(h.statements, [{ protocol: 'simple', text: 'SELECT 42' }]);
});
