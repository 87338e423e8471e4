import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../config/config.js';
import { DeniedError, RuntimeError, UsageError } from '../errors/exit-codes.js';
import { main, type CommandTable } from './dispatch.js';

/** Runs main() against a one-command table whose `version` throws `err`; returns the exit code and what went to stderr. */
async function withThrow(err: unknown): Promise<{ code: number; stderr: string }> {
  const table: CommandTable = { version: async () => ({ run: async () => Promise.reject(err) }) };
  let stderr = '';
  const write = process.stderr.write;
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  try {
    return { code: await main(['version'], table), stderr };
  } finally {
    process.stderr.write = write;
  }
}

test('one place maps a thrown error to its message and exit code', async () => {
  assert.deepEqual(await withThrow(new UsageError('--x is wrong')), { code: 1, stderr: 'rsproxy version: --x is wrong (see `rsproxy version --help`)\n' });
  assert.deepEqual(await withThrow(new RuntimeError('cannot listen')), { code: 2, stderr: 'rsproxy version: cannot listen\n' });
  assert.deepEqual(await withThrow(new DeniedError('chain broken at line 3')), { code: 3, stderr: 'rsproxy version: chain broken at line 3\n' });
  assert.deepEqual((await withThrow(new ConfigError(['listen: bad']))).code, 1);
  assert.deepEqual(await withThrow(new Error('surprise')), { code: 2, stderr: 'rsproxy version: surprise\n' });
  // Told apart by class, not by name: a look-alike is an unexpected failure.
  assert.equal((await withThrow(Object.assign(new Error('x'), { name: 'UsageError', exitCode: 1 }))).code, 2);
});

test('a usage error that already points to --help is not pointed twice', async () => {
  const r = await withThrow(new UsageError('unknown option --y (see `rsproxy version --help`)'));
  assert.equal(r.stderr, 'rsproxy version: unknown option --y (see `rsproxy version --help`)\n');
});
