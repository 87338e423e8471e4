import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteQueue } from './byte-queue.js';

const data = Buffer.from([0, 0, 0, 7, 0xaa, 0xbb, 0xcc, 1, 2, 3, 4, 5]);

test('split at every offset: reads and takes see the same bytes as one chunk', () => {
  for (let cut = 0; cut <= data.length; cut++) {
    const q = new ByteQueue();
    q.push(data.subarray(0, cut));
    q.push(data.subarray(cut));
    assert.equal(q.length, data.length, `cut ${cut}`);
    assert.equal(q.int32At(0), 7);
    assert.equal(q.byteAt(4), 0xaa);
    assert.deepEqual(Buffer.from(q.take(7)), data.subarray(0, 7));
    assert.equal(q.length, 5);
    assert.equal(q.byteAt(0), 1);
    assert.deepEqual(Buffer.from(q.takeAll()), data.subarray(7));
    assert.equal(q.length, 0);
  }
});

test('reads are relative to the unread head after a partial take and a later push', () => {
  const q = new ByteQueue();
  q.push(data.subarray(0, 6));
  q.take(4);
  assert.equal(q.length, 2);
  q.push(data.subarray(6));
  assert.equal(q.length, data.length - 4);
  assert.equal(q.byteAt(0), 0xaa);
  assert.equal(q.int32At(3), 0x01020304);
});

test('a chunk pushed onto an empty queue is kept by reference; pending bytes are copied on push', () => {
  const q = new ByteQueue();
  const chunk = Buffer.from([9, 8, 7]);
  q.push(chunk);
  chunk[0] = 6;
  assert.equal(q.byteAt(0), 6);
  q.take(3);
  q.push(Buffer.from([1, 2]));
  q.take(1);
  const pending = Buffer.from([3]);
  q.push(pending);
  pending[0] = 99;
  assert.deepEqual(Buffer.from(q.takeAll()), Buffer.from([2, 3]));
});

test('takeAll empties the queue, also when nothing was pushed', () => {
  const q = new ByteQueue();
  assert.equal(q.takeAll().length, 0);
  q.push(Buffer.from([1, 2, 3]));
  q.take(1);
  assert.deepEqual(Buffer.from(q.takeAll()), Buffer.from([2, 3]));
  assert.equal(q.length, 0);
  assert.equal(q.takeAll().length, 0);
});
