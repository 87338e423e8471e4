import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminToken, maxTokenFileBytes, readAdminToken } from './token.js';

test('readAdminToken trims the file; a missing, empty or oversized file is an error naming the path, never the content', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-token-'));
  try {
    const path = join(dir, 'token');
    writeFileSync(path, '  s3cret-token-value\n');
    assert.equal(readAdminToken(path), 's3cret-token-value');
    assert.throws(() => readAdminToken(join(dir, 'nope')), /cannot read .*nope \(ENOENT\)/);
    writeFileSync(path, ' \n\t');
    assert.throws(() => readAdminToken(path), /is empty/);
    writeFileSync(path, `s3cret${'x'.repeat(maxTokenFileBytes)}`);
    assert.throws(() => readAdminToken(path), (err: Error) => /larger than/.test(err.message) && !err.message.includes('s3cret'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('AdminToken: only `Bearer <token>` passes; wrong, longer, shorter, missing or another scheme fail; set() rotates', () => {
  const t = new AdminToken('abc123');
  assert.equal(t.isAuthorized('Bearer abc123'), true);
  assert.equal(t.isAuthorized('bearer abc123'), true, 'the scheme is case-insensitive');
  assert.equal(t.isAuthorized('Bearer  abc123 '), true, 'surrounding spaces are trimmed like the file');
  for (const bad of [undefined, '', 'Bearer', 'Bearer ', 'Bearer abc124', 'Bearer abc1234', 'Bearer abc12', 'Basic abc123', 'abc123', 'Bearerabc123']) {
    assert.equal(t.isAuthorized(bad), false, String(bad));
  }
  t.set('new-token');
  assert.equal(t.isAuthorized('Bearer abc123'), false, 'the old token stops working');
  assert.equal(t.isAuthorized('Bearer new-token'), true);
});
