import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machineJiffies, openFilesSoftLimit, procCpuMicros, procRssBytes } from './proc-cpu.js';

test('procCpuMicros reads this process\'s CPU from /proc and grows with work; an unknown pid is undefined', () => {
  const before = procCpuMicros(process.pid);
  assert.ok(before !== undefined && before >= 0);
  const until = Date.now() + 150;
  while (Date.now() < until);
  const after = procCpuMicros(process.pid, true);
  assert.ok(after !== undefined && after > before);
  assert.equal(procCpuMicros(2 ** 22 + 12345), undefined);
});

test('machineJiffies: busy ≤ total', () => {
  const j = machineJiffies();
  assert.ok(j !== undefined && j.busy >= 0 && j.busy <= j.total);
});

test('procRssBytes reads this process\'s resident memory from /proc (close to Node\'s own figure); an unknown pid is undefined', () => {
  const rss = procRssBytes(process.pid);
  const own = process.memoryUsage.rss();
  assert.ok(rss !== undefined && rss > 10 * 1024 * 1024 && Math.abs(rss - own) < own / 2, `${rss} vs ${own}`);
  assert.equal(procRssBytes(2 ** 22 + 12345), undefined);
});

test('openFilesSoftLimit reads a positive soft limit on open files', () => {
  const n = openFilesSoftLimit();
  assert.ok(n !== undefined && Number.isInteger(n) && n > 0);
});
