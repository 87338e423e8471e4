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

function harness(): Harness {
  const h: Harness = { out: [], statements: [], pending: [], events: [], refused: 0, full: { value: false } } as unknown as Harness;
  h.gate = new StatementGate(
    (s) => {
      h.statements.push(s);
      return new Promise<boolean>((resolve) => h.pending.push(resolve));
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
  assert.ok(h.events.includes('pause'));
  h.pending.shift()!(true);
  await tick();
  assert.deepEqual(Buffer.concat(h.out), stream, 'everything, byte for byte, in order');
  assert.equal(h.gate.isHolding, false);
  assert.equal(h.events.at(-1), 'resume');
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

test('backpressure: a full upstream pauses the client until drain, also across a pending record', async () => {
  const h = harness();
  h.full.value = true;
  h.gate.feed(sync());
  assert.deepEqual(h.events, ['pause']);
  h.full.value = false;
  h.gate.onUpstreamDrain();
  assert.deepEqual(h.events, ['pause', 'resume']);
  h.gate.feed(query('SELECT 1'));
  h.gate.onUpstreamDrain();
  assert.equal(h.events.at(-1), 'pause', 'no resume while the record is pending');
  h.pending.shift()!(true);
  await tick();
  assert.equal(h.events.at(-1), 'resume');
});
