import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chainAfter, isHash, lineHash } from './chain.js';

test('lineHash is the SHA-256 hex of the UTF-8 bytes, the same for a string and its bytes', () => {
  const line = '{"seq":1,"text":"é😀"}';
  assert.equal(lineHash(line), createHash('sha256').update(Buffer.from(line, 'utf8')).digest('hex'));
  assert.equal(lineHash(Buffer.from(line)), lineHash(line));
  assert.ok(isHash(lineHash('')));
  assert.equal(isHash('0'.repeat(63)), false);
  assert.equal(isHash('G'.repeat(64)), false);
});

test('chainAfter: the seq and hash a written line leaves; undefined for lines that are not records', () => {
  const line = Buffer.from('{"seq":41,"prev":"x"}');
  assert.deepEqual(chainAfter(line), { seq: 41, prev: lineHash(line) });
  for (const bad of ['', 'nope', '[]', 'null', '{"seq":0}', '{"seq":-1}', '{"seq":"3"}', '{"seq":1.5}', '{}']) assert.equal(chainAfter(Buffer.from(bad)), undefined, bad);
});
