import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machineJiffies, procCpuMicros } from './proc-cpu.js';

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
