import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferWriter } from './writer.js';

test('typed message: the length is patched on flush and excludes the type byte', () => {
  const msg = new BufferWriter(0x53).cstring('a').cstring('b').flush();
  assert.deepEqual([...msg], [0x53, 0, 0, 0, 8, 0x61, 0, 0x62, 0]);
});

test('untyped packet: the length counts itself', () => {
  const msg = new BufferWriter().int32(80877103).flush();
  assert.deepEqual([...msg], [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
});

test('grows past the initial size and keeps earlier bytes', () => {
  const big = Buffer.alloc(1000, 7);
  const msg = new BufferWriter(0x45, 8).byte(1).int16(-1).bytes(big).cstring('✓').flush();
  assert.equal(msg.length, 1 + 4 + 1 + 2 + 1000 + 4);
  assert.equal(msg.readInt32BE(1), msg.length - 1);
  assert.equal(msg[5], 1);
  assert.equal(msg.readInt16BE(6), -1);
  assert.ok(msg.subarray(8, 1008).equals(big));
  assert.equal(msg.subarray(1008, 1011).toString('utf8'), '✓');
  assert.equal(msg[1011], 0);
});
