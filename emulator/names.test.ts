import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isReservedWord, nameProblem, type NameKind } from './names.js';

const table: Array<[NameKind, string, boolean]> = [
  ['DbUser', 'alice', true],
  ['DbUser', 'Alice', true],
  ['DbUser', 'a', true],
  ['DbUser', 'a'.repeat(64), true],
  ['DbUser', 'a'.repeat(65), false],
  ['DbUser', '', false],
  ['DbUser', 'jane.doe+x@corp-1_a', true],
  ['DbUser', '1alice', false],
  ['DbUser', '_alice', false],
  ['DbUser', 'a:b', false],
  ['DbUser', 'a/b', false],
  ['DbUser', 'a=b', false],
  ['DbUser', 'a b', false],
  ['DbUser', 'PUBLIC', false],
  ['DbUser', 'public', false],
  ['DbUser', 'select', false],
  ['DbUser', 'USER', false],
  ['DbUser', 'selector', true],
  ['DbUser', 'älice', false],
  ['DbName', 'dev', true],
  ['DbName', 'Dev', false],
  ['DbName', 'my_db-1', true],
  ['DbGroup', 'analysts', true],
  ['DbGroup', 'Analysts', false],
  ['DbGroup', 'group', false],
  ['DbGroup', 'public', false],
];

test('Redshift name rules table (docs/design/aws.md §3)', () => {
  for (const [kind, name, valid] of table) {
    assert.equal(nameProblem(kind, name) === undefined, valid, `${kind} ${JSON.stringify(name)} should be ${valid ? 'valid' : 'invalid'}`);
  }
});

test('problems say what is wrong', () => {
  assert.equal(nameProblem('DbGroup', 'Analysts'), 'DbGroup may contain only lower-case letters, digits and _ + . @ -');
  assert.equal(nameProblem('DbUser', 'PUBLIC'), 'DbUser must not be PUBLIC');
  assert.equal(nameProblem('DbUser', 'a:b'), "DbUser must not contain ':' or '/'");
  assert.ok(isReservedWord('Select'));
  assert.ok(!isReservedWord('alice'));
});
