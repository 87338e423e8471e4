import { test } from 'node:test';
import assert from 'node:assert/strict';
import { be, fe, splitAt } from '../../testkit/query-wire.js';
import { PeekingFramer, prefixTable } from './message-peek.js';

type Seen = [string, string, number];

function collect(prefixes: Record<string, number>, stops = ''): { framer: PeekingFramer; seen: Seen[] } {
  const seen: Seen[] = [];
  const framer = new PeekingFramer(prefixTable(prefixes), (type, buf, offset, length, bodyLength) => {
    seen.push([String.fromCharCode(type), buf.toString('latin1', offset, offset + length), bodyLength]);
  }, stops);
  return { framer, seen };
}

const stream = Buffer.concat([fe.parse('stmt', 'SELECT 1'), fe.sync(), fe.query('SELECT 22'), fe.terminate()]);
const expected: Seen[] = [
  ['P', 'stmt\0SE', stream.readInt32BE(1) - 4],
  ['S', '', 0],
  ['Q', 'SELE', 10],
  ['X', '', 0],
];

test('one call per message with the wanted body prefix, for every split point and one-byte chunks', () => {
  for (let a = 0; a <= stream.length; a++) {
    for (const b of [a, Math.min(stream.length, a + 3), Math.min(stream.length, a + 9)]) {
      const { framer, seen } = collect({ P: 7, Q: 4 });
      for (const part of splitAt(stream, [a, b])) framer.feed(part);
      assert.deepEqual(seen, expected, `split at ${a},${b}`);
      assert.equal(framer.isAtBoundary, true);
    }
  }
  const ends = new Set<number>();
  for (let at = 0; at < stream.length; at += stream.readInt32BE(at + 1) + 1) ends.add(at + stream.readInt32BE(at + 1) + 1);
  const { framer, seen } = collect({ P: 7, Q: 4 });
  for (let i = 0; i < stream.length; i++) {
    framer.feed(stream.subarray(i, i + 1));
    assert.equal(framer.isAtBoundary, ends.has(i + 1), `after byte ${i}`);
  }
  assert.deepEqual(seen, expected);
});

test('a body shorter than the wanted prefix shows all of it', () => {
  const { framer, seen } = collect({ Z: 100 });
  framer.feed(be.readyForQuery('T'));
  assert.deepEqual(seen, [['Z', 'T', 1]]);
});

test('feed reports where the first stop-type message begins in the chunk, even when only its type byte is there', () => {
  const { framer } = collect({}, 'X');
  const bytes = Buffer.concat([fe.sync(), fe.terminate()]);
  assert.equal(framer.feed(bytes), 5);
  const second = collect({}, 'X').framer;
  assert.equal(second.feed(bytes.subarray(0, 6)), 5);
  assert.equal(second.feed(bytes.subarray(6)), -1);
  assert.equal(second.isAtBoundary, true);
  assert.equal(collect({}, 'X').framer.feed(fe.query('X')), -1, 'an X inside a body is not a message');
});

test('a declared length below 4 breaks the stream for good', () => {
  const { framer, seen } = collect({});
  framer.feed(Buffer.from([0x51, 0, 0, 0, 3]));
  framer.feed(fe.sync());
  assert.equal(framer.isBroken, true);
  assert.equal(framer.isAtBoundary, false);
  assert.deepEqual(seen, []);
});

test('with sinkTypes, only those types reach the sink; boundaries are still followed', () => {
  const seen: string[] = [];
  const framer = new PeekingFramer(prefixTable({}), (type) => seen.push(String.fromCharCode(type)), '', 'Z');
  framer.feed(Buffer.concat([be.dataRow(['1']), be.commandComplete('SELECT 1'), be.readyForQuery('I')]));
  assert.deepEqual(seen, ['Z']);
  assert.equal(framer.isAtBoundary, true);
});
