import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeAuditFs, readTail, statePathOf } from './audit-file.js';

const dir = mkdtempSync(join(tmpdir(), 'rsproxy-audit-file-'));
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));

test('readTail finds the last complete line, across chunk boundaries, and ignores a torn tail', async () => {
  const path = join(dir, 'tail.log');
  const long = 'x'.repeat(100);
  writeFileSync(path, `first\n${long}\nsecond-${long}\ntorn`);
  const file = await nodeAuditFs.openAppend(path);
  try {
    const size = await file.size();
    for (const chunk of [1, 3, 7, 64, 65536]) {
      const tail = await readTail(file, size, chunk);
      assert.equal(text(tail.lastLine), `second-${long}`, `chunk ${chunk}`);
      assert.equal(tail.completeSize, size - 'torn'.length);
    }
  } finally {
    await file.close();
  }
});

test('readTail: an empty file, a file of one line, a file with no newline at all', async () => {
  const cases: Array<[string, string | undefined, number]> = [['', undefined, 0], ['only\n', 'only', 5], ['\n', '', 1], ['no newline', undefined, 0], ['a\n\n', '', 3]];
  for (const [content, last, complete] of cases) {
    const path = join(dir, 'case.log');
    writeFileSync(path, content);
    const file = await nodeAuditFs.openAppend(path);
    const tail = await readTail(file, await file.size(), 2);
    await file.close();
    assert.equal(text(tail.lastLine), last, JSON.stringify(content));
    assert.equal(tail.completeSize, complete, JSON.stringify(content));
  }
});

test('the node file appends, truncates and is created 0600; probeWritable leaves nothing behind', async () => {
  const path = join(dir, 'append.log');
  const file = await nodeAuditFs.openAppend(path);
  await file.append(Buffer.from('abc\n'));
  await file.append(Buffer.from('def'));
  await file.truncate(4);
  await file.append(Buffer.from('ghi\n'));
  await file.sync();
  await file.close();
  assert.equal(readFileSync(path, 'utf8'), 'abc\nghi\n');
  const { statSync } = await import('node:fs');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const before = readdirSync(dir).sort();
  await nodeAuditFs.probeWritable(path);
  assert.deepEqual(readdirSync(dir).sort(), before);
  await assert.rejects(nodeAuditFs.probeWritable(join(dir, 'missing-dir', 'x.log')));
  assert.equal(existsSync(join(dir, 'missing-dir')), false);
});

test('the chain state lives in a hidden file next to the log, written 0600 and replaced whole', async () => {
  const path = join(dir, 'state.log');
  assert.equal(statePathOf(path), join(dir, '.state.log.chain'));
  assert.equal(await nodeAuditFs.readState(path), undefined);
  await nodeAuditFs.writeState(path, 'one\n');
  await nodeAuditFs.writeState(path, 'two\n');
  assert.equal(await nodeAuditFs.readState(path), 'two\n');
  const { statSync } = await import('node:fs');
  assert.equal(statSync(statePathOf(path)).mode & 0o777, 0o600);
  assert.equal(existsSync(`${statePathOf(path)}.tmp`), false);
  await assert.rejects(nodeAuditFs.readState(join(dir, 'append.log', 'x')));
});
