import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineHash } from './chain.js';
import { genesisPrev, type AuditEntry } from './record.js';
import { serializeRecord } from './record-encoding.js';
import { ChainVerifier, verifyAuditFiles } from './verify.js';

const dir = mkdtempSync(join(tmpdir(), 'rsproxy-audit-verify-'));
let n = 0;

const entry = (i: number): AuditEntry => ({
  event: 'statement', connectionId: `c${i}`, clientAddress: '10.0.0.1:5000',
  identity: 'arn:aws:iam::123456789012:role/R', callerArn: 'arn:aws:sts::123456789012:assumed-role/R/bob', accountId: '123456789012',
  database: 'dev', dbUser: 'bob', dbGroups: [], target: 'h:5439', applicationName: 'psql', upstreamPid: 100 + i, reused: false,
  protocol: 'simple', text: `SELECT ? /* ${i} */`,
});

/** A valid chain of `count` lines starting after (seq, prev). */
function chainLines(count: number, seq = 0, prev = genesisPrev): string[] {
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    const line = serializeRecord({ seq: seq + i, time: '2026-12-07T18:00:00.000Z', prev }, entry(seq + i));
    lines.push(line);
    prev = lineHash(line);
  }
  return lines;
}
const file = (lines: string[], tail = '\n'): string => {
  const path = join(dir, `f${++n}.log`);
  writeFileSync(path, lines.length === 0 ? '' : lines.join('\n') + tail);
  return path;
};

test('an intact chain passes, also split over two files (rotation) and with an empty file in between', async () => {
  const lines = chainLines(10);
  assert.deepEqual(await verifyAuditFiles([file(lines)]), { ok: true, files: 1, records: 10, firstSeq: 1, lastSeq: 10 });
  assert.deepEqual(await verifyAuditFiles([file(lines.slice(0, 4)), file([]), file(lines.slice(4))]), { ok: true, files: 3, records: 10, firstSeq: 1, lastSeq: 10 });
});

test('one character changed in any line but the last breaks the chain at the next line, which names it', async () => {
  const lines = chainLines(6);
  for (let i = 0; i < lines.length - 1; i++) {
    const changed = [...lines];
    const at = changed[i]?.indexOf('bob') ?? -1;
    changed[i] = `${changed[i]?.slice(0, at)}B${changed[i]?.slice(at + 1)}`;
    const path = file(changed);
    assert.deepEqual(await verifyAuditFiles([path]), {
      ok: false, file: path, line: i + 2,
      what: `prev is not the SHA-256 of line ${i + 1}: that line was changed, or lines were removed or reordered`,
    });
  }
});

test('an edit of a seq or prev is found at that line, the last line included', async () => {
  const lines = chainLines(3);
  const bumpSeq = [...lines.slice(0, 2), (lines[2] ?? '').replace('"seq":3', '"seq":4')];
  let path = file(bumpSeq);
  assert.deepEqual(await verifyAuditFiles([path]), { ok: false, file: path, line: 3, what: 'seq 4 follows seq 2 (expected 3)' });
  const badPrev = [...lines.slice(0, 2), (lines[2] ?? '').replace(/"prev":"(.)/, (_m, c: string) => `"prev":"${c === 'a' ? 'b' : 'a'}`)];
  path = file(badPrev);
  const result = await verifyAuditFiles([path]);
  assert.deepEqual(result.ok ? undefined : [result.line, result.what.slice(0, 36)], [3, 'prev is not the SHA-256 of line 2: t']);
});

test('a deleted line, two swapped lines, a truncated last line: each found at its line', async () => {
  const lines = chainLines(6);
  let path = file([...lines.slice(0, 2), ...lines.slice(3)]);
  assert.deepEqual(await verifyAuditFiles([path]), { ok: false, file: path, line: 3, what: 'seq 4 follows seq 2 (expected 3)' });
  path = file([lines[0] ?? '', lines[2] ?? '', lines[1] ?? '', ...lines.slice(3)]);
  assert.deepEqual(await verifyAuditFiles([path]), { ok: false, file: path, line: 2, what: 'seq 3 follows seq 1 (expected 2)' });
  path = file([...lines.slice(0, 5), (lines[5] ?? '').slice(0, 40)], '');
  assert.deepEqual(await verifyAuditFiles([path]), { ok: false, file: path, line: 6, what: 'the last line has no newline: the file was cut or a write did not complete' });
  path = file([...lines.slice(0, 5), (lines[5] ?? '').slice(0, 40)]);
  assert.deepEqual(await verifyAuditFiles([path]), { ok: false, file: path, line: 6, what: 'not a JSON line' });
});

test('across files: a missing middle file, files in the wrong order, a record removed at the boundary', async () => {
  const lines = chainLines(9);
  const [a, b, c] = [file(lines.slice(0, 3)), file(lines.slice(3, 6)), file(lines.slice(6))];
  assert.deepEqual(await verifyAuditFiles([a, c]), { ok: false, file: c, line: 1, what: 'seq 7 follows seq 3 (expected 4)' });
  assert.deepEqual(await verifyAuditFiles([b, a]), {
    ok: false, file: a, line: 1,
    what: 'a new chain starts here (seq 1, prev 64 zeros) after seq 6: the proxy started with an empty or missing file; verify the files before and from here separately',
  });
  assert.deepEqual(await verifyAuditFiles([c, b]), { ok: false, file: b, line: 1, what: 'seq 4 follows seq 9 (expected 10)' });
  const edited = file([...lines.slice(0, 2), (lines[2] ?? '').replace('bob', 'eve')]);
  assert.deepEqual(await verifyAuditFiles([edited, b]), { ok: false, file: b, line: 1, what: `prev is not the SHA-256 of the last line of ${edited}: that line was changed, or lines were removed or reordered` });
});

test('where a chain may start: seq 1 with zeros, or mid-way at any seq when prev is a hash; zeros with seq > 1 is broken', async () => {
  const lines = chainLines(6);
  assert.deepEqual(await verifyAuditFiles([file(lines.slice(3))]), { ok: true, files: 1, records: 3, firstSeq: 4, lastSeq: 6 });
  const forged = serializeRecord({ seq: 5, time: '2026-12-07T18:00:00.000Z', prev: genesisPrev }, entry(5));
  const path = file([forged]);
  assert.deepEqual(await verifyAuditFiles([path]), { ok: false, file: path, line: 1, what: 'seq 5 with prev 64 zeros: the first record of a chain has seq 1' });
  assert.deepEqual(await verifyAuditFiles([]), { ok: true, files: 0, records: 0, firstSeq: 0, lastSeq: 0 });
});

test('lines that are not records', () => {
  const v = new ChainVerifier();
  const bytes = (s: string): Uint8Array => Buffer.from(s);
  assert.equal(v.check(bytes('')), 'empty line');
  assert.equal(v.check(bytes('[1]')), 'not a JSON object');
  assert.equal(v.check(bytes('null')), 'not a JSON object');
  assert.equal(v.check(bytes('{"seq":"1","prev":"x"}')), 'seq is not a positive integer');
  assert.equal(v.check(bytes('{"seq":1.5}')), 'seq is not a positive integer');
  assert.equal(v.check(bytes(`{"seq":1,"prev":"${'A'.repeat(64)}"}`)), 'prev is not a SHA-256 hex string');
});

test('an unreadable file rejects (the CLI exits 1)', async () => {
  await assert.rejects(verifyAuditFiles([join(dir, 'missing.log')]), { code: 'ENOENT' });
});
