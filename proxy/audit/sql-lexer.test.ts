import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { lexSql, type SqlToken } from './sql-lexer.js';

const runs = { seed: 2020, numRuns: 500 };
const kinds = (text: string): Array<[string, string]> => lexSql(text).filter((t) => t.kind !== 'space').map((t) => [t.kind, text.slice(t.start, t.end)]);

test('tokens: identifiers, quoted identifiers, strings of every kind, numbers, parameters, operators, comments', () => {
  assert.deepEqual(kinds(`SELECT "a""b", x$1, E'\\'', B'01', X'ff', N'n', U&'d', U&"q", 1.5e-3, .5, 10, $1, $$ x $$, $t$ y $t$ FROM t -- c`), [
    ['identifier', 'SELECT'], ['quoted-identifier', '"a""b"'], ['punctuation', ','], ['identifier', 'x$1'], ['punctuation', ','],
    ['literal', "E'\\''"], ['punctuation', ','], ['literal', "B'01'"], ['punctuation', ','], ['literal', "X'ff'"], ['punctuation', ','],
    ['literal', "N'n'"], ['punctuation', ','], ['literal', "U&'d'"], ['punctuation', ','], ['quoted-identifier', 'U&"q"'], ['punctuation', ','],
    ['number', '1.5e-3'], ['punctuation', ','], ['number', '.5'], ['punctuation', ','], ['number', '10'], ['punctuation', ','],
    ['parameter', '$1'], ['punctuation', ','], ['literal', '$$ x $$'], ['punctuation', ','], ['literal', '$t$ y $t$'],
    ['identifier', 'FROM'], ['identifier', 't'], ['comment', '-- c'],
  ]);
});

test('operators stop before a comment; :: is one token; block comments nest', () => {
  assert.deepEqual(kinds('a<>b::int+-- c\n/* 1 /* 2 */ 3 */x'), [
    ['identifier', 'a'], ['operator', '<>'], ['identifier', 'b'], ['punctuation', '::'], ['identifier', 'int'], ['operator', '+'],
    ['comment', '-- c'], ['comment', '/* 1 /* 2 */ 3 */'], ['identifier', 'x'],
  ]);
});

test("strings: '' doubles a quote; \\' is an escaped quote as Redshift reads it, marked ambiguous (PostgreSQL would end there)", () => {
  const [plain] = lexSql("'it''s'");
  assert.deepEqual(plain, { kind: 'literal', start: 0, end: 7 });
  const [redshift] = lexSql("'it\\'s' x");
  assert.deepEqual(redshift, { kind: 'literal', start: 0, end: 7, isAmbiguous: true });
  const [escape] = lexSql("E'it\\'s' x");
  assert.deepEqual(escape, { kind: 'literal', start: 0, end: 8 });
  const [backslashes] = lexSql("'a\\\\' x");
  assert.deepEqual(backslashes, { kind: 'literal', start: 0, end: 5 });
});

test('dollar quotes: a different tag inside is body; the body offsets are given', () => {
  const text = '$a$ $b$ x $b$ $a$';
  assert.deepEqual(lexSql(text), [{ kind: 'literal', start: 0, end: text.length, body: { start: 3, end: 14 } }]);
  assert.deepEqual(kinds('$1$'), [['parameter', '$1'], ['other', '$']]);
});

test('unterminated strings, identifiers, dollar quotes and comments run to the end and say so', () => {
  for (const text of ["x 'abc", 'x "abc', 'x $q$ abc', 'x /* a /* b */', "x E'a\\'", "x U&'a"]) {
    const last = lexSql(text).at(-1);
    assert.equal(last?.end, text.length, text);
    assert.equal(last?.isUnterminated, true, text);
  }
});

test('tokens cover any text end to end, in order, and lexing never throws', () => {
  const hostile = fc.string({ unit: fc.constantFrom("'", '"', '$', '\\', '-', '/', '*', 'E', 'e', 'U', '&', 'a', '1', '.', ' ', '\n', 'é', '\uD800', '😀', '\0') });
  fc.assert(
    fc.property(fc.oneof(hostile, fc.string({ unit: 'binary' })), (text) => {
      const tokens: SqlToken[] = lexSql(text);
      let at = 0;
      for (const t of tokens) {
        assert.equal(t.start, at);
        assert.ok(t.end > t.start);
        at = t.end;
      }
      assert.equal(at, text.length);
    }),
    runs,
  );
});
