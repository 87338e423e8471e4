import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeniedError, ExitCode, ExitError, exitCodeOf, RuntimeError, UsageError } from './exit-codes.js';

test('each class carries its exit code; anything else is a runtime failure', () => {
  assert.deepEqual(ExitCode, { Ok: 0, Usage: 1, Runtime: 2, Denied: 3, Sigint: 130, Sigterm: 143 });
  assert.equal(exitCodeOf(new UsageError('u')), 1);
  assert.equal(exitCodeOf(new RuntimeError('r')), 2);
  assert.equal(exitCodeOf(new DeniedError('d')), 3);
  assert.equal(exitCodeOf(new Error('x')), 2);
  assert.equal(exitCodeOf('thrown string'), 2);
  // A look-alike is not trusted: only the classes decide.
  assert.equal(exitCodeOf(Object.assign(new Error('x'), { name: 'UsageError', exitCode: 1 })), 2);
});

test('the classes are told apart by instanceof, not by name', () => {
  const u = new UsageError('bad flag', { cause: new Error('inner') });
  assert.ok(u instanceof ExitError && u instanceof UsageError && !(u instanceof RuntimeError));
  assert.equal(u.name, 'UsageError');
  assert.equal(u.code, 'CLI_USAGE');
  assert.equal((u.cause as Error).message, 'inner');
  assert.ok(!(new RuntimeError('r') instanceof UsageError));
});
