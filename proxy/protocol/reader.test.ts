import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferReader, decodeUtf8Strict } from './reader.js';
import { ProtocolError } from './protocol-error.js';

test('reads big-endian integers, bytes and C strings in order', () => {
  const r = new BufferReader(Buffer.from([0xff, 0xfe, 0, 0, 0, 5, 0x80, 0, 0, 0, 7, 0x61, 0x62, 0, 9, 8]));
  assert.equal(r.int16(), -2);
  assert.equal(r.int32(), 5);
  assert.equal(r.uint32(), 0x80000000);
  assert.equal(r.byte(), 7);
  assert.equal(r.cstring(), 'ab');
  assert.deepEqual([...r.bytes(2)], [9, 8]);
  assert.equal(r.remaining, 0);
});

test('every overrun throws ProtocolError and never reads past the end', () => {
  const buf = Buffer.from([1, 2, 3]);
  assert.throws(() => new BufferReader(buf).int32(), ProtocolError);
  assert.throws(() => new BufferReader(buf, 2).int16(), ProtocolError);
  assert.throws(() => new BufferReader(buf, 3).byte(), ProtocolError);
  assert.throws(() => new BufferReader(buf).bytes(4), ProtocolError);
  assert.throws(() => new BufferReader(buf).bytes(-1), ProtocolError);
  assert.throws(() => new BufferReader(buf).cstring(), /missing string terminator/);
});

test('a subarray view is bounded by its own length, not the pooled parent', () => {
  const parent = Buffer.from([0, 0, 0, 1, 0, 0, 0, 2]);
  const view = parent.subarray(0, 4);
  const r = new BufferReader(view);
  assert.equal(r.int32(), 1);
  assert.throws(() => r.int32(), ProtocolError);
});

test('strict UTF-8: invalid sequences are rejected, valid multi-byte text decodes', () => {
  assert.equal(decodeUtf8Strict(Buffer.from('héllo ✓', 'utf8')), 'héllo ✓');
  assert.throws(() => decodeUtf8Strict(Buffer.from([0xc3])), ProtocolError);
  assert.throws(() => decodeUtf8Strict(Buffer.from([0xff, 0x41])), ProtocolError);
  assert.throws(() => decodeUtf8Strict(Buffer.from([0xed, 0xa0, 0x80])), ProtocolError); // surrogate
});
