import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateDbGroup, validateDbName, validateDbUser } from './redshift-names.js';
import { redshiftReservedWords } from './redshift-reserved-words.js';

test('valid names pass', () => {
  for (const n of ['alice', 'Alice', 'a', 'alice.smith@example.com', 'a_b+c-d', 'x'.repeat(64)]) assert.equal(validateDbUser(n), undefined, n);
  assert.equal(validateDbGroup('analysts'), undefined);
  assert.equal(validateDbName('dev'), undefined);
});

test('each rule rejects (docs/design/aws.md §3)', () => {
  for (const n of ['', 'x'.repeat(65), '1abc', '_abc', 'a=b', 'a:b', 'a/b', 'a b', 'PUBLIC', 'public', 'select', 'USER', 'é']) {
    assert.equal(typeof validateDbUser(n), 'string', n);
  }
  assert.equal(typeof validateDbGroup('Analysts'), 'string');
  assert.equal(typeof validateDbName('Dev'), 'string');
  assert.equal(typeof validateDbGroup('group'), 'string');
});

test('the reserved-word list is upper case and complete at its ends', () => {
  assert.ok(redshiftReservedWords.has('AES128') && redshiftReservedWords.has('WITHOUT'));
  assert.ok([...redshiftReservedWords].every((w) => w === w.toUpperCase()));
  assert.ok(redshiftReservedWords.size > 150);
});
