import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fingerprint, maskPasswords, secretKeywords, statementRecordText, truncateUtf8 } from './fingerprint.js';
import { lexSql } from './sql-lexer.js';

const runs = { seed: 4242, numRuns: 400 };

/** Hostile texts: [input, fingerprint, maskPasswords]. */
const corpus: Array<[string, string, string]> = [
  ["SELECT a,b FROM t WHERE x = 'abc' AND y=42.5e3", 'SELECT a, b FROM t WHERE x = ? AND y = ?', "SELECT a,b FROM t WHERE x = 'abc' AND y=42.5e3"],
  ['select $a$ $b$ inner $b$ still $a$, 1', 'select ?, ?', 'select $a$ $b$ inner $b$ still $a$, 1'],
  ['select $a$ $b$ open', 'select ?', "select '***'"],
  ["select E'\\'' , 'x'", 'select ?, ?', "select E'\\'' , 'x'"],
  ["select 'It\\'s' || secret_col, 'abc' FROM t", 'select ?', "select '***'"],
  ["select 'never closed, PASSWORD 'x", 'select ? x', "select '***'x"],
  ["select 'never closed", 'select ?', "select '***'"],
  ["select /* 'in comment' 42 */ 1 -- 'tail' 7", 'select ?', "select /* 'in comment' 42 */ 1 -- 'tail' 7"],
  ["select '/* not a comment */', '-- nor this'", 'select ?, ?', "select '/* not a comment */', '-- nor this'"],
  ["select 1; ALTER USER bob PASSWORD 'hunter2'; select 'x'", 'select ?; ALTER USER bob PASSWORD ?; select ?', "select 1; ALTER USER bob PASSWORD '***'; select 'x'"],
  ["alter user bob password 'a''b' valid until '2027-01-01'", 'alter user bob password ? valid until ?', "alter user bob password '***' valid until '2027-01-01'"],
  ["CREATE USER x WITH PASSWORD /* why */ E'se\\'cret' CREATEDB", 'CREATE USER x WITH PASSWORD ? CREATEDB', "CREATE USER x WITH PASSWORD /* why */ '***' CREATEDB"],
  ['CREATE USER x PASSWORD $p$ dollar secret $p$', 'CREATE USER x PASSWORD ?', "CREATE USER x PASSWORD '***'"],
  ["ALTER USER x PASSWORD = 'eq'", 'ALTER USER x PASSWORD = ?', "ALTER USER x PASSWORD = '***'"],
  ["ALTER USER x PASSWORD 'first'\n'second' VALID UNTIL 'd'", 'ALTER USER x PASSWORD ? ? VALID UNTIL ?', "ALTER USER x PASSWORD '***'\n'***' VALID UNTIL 'd'"],
  ['ALTER USER x PASSWORD "quoted" VALID UNTIL 1', 'ALTER USER x PASSWORD "quoted" VALID UNTIL ?', "ALTER USER x PASSWORD '***' VALID UNTIL 1"],
  ['ALTER USER x PASSWORD 12345', 'ALTER USER x PASSWORD ?', "ALTER USER x PASSWORD '***'"],
  ['ALTER USER x PASSWORD DISABLE', 'ALTER USER x PASSWORD DISABLE', 'ALTER USER x PASSWORD DISABLE'],
  ["COPY t FROM 's3://b/k' CREDENTIALS 'aws_access_key_id=AKIA;aws_secret_access_key=SECRET'", 'COPY t FROM ? CREDENTIALS ?', "COPY t FROM 's3://b/k' CREDENTIALS '***'"],
  ["UNLOAD ('select * from v where s = \\'NV\\'') TO 's3://b/' ACCESS_KEY_ID 'AKIA' SECRET_ACCESS_KEY 'sk' SESSION_TOKEN 'st'", 'UNLOAD (?', "UNLOAD ('***'"],
  ["COPY t FROM 's3://b' ACCESS_KEY_ID 'AKIA' SECRET_ACCESS_KEY 'sk' SESSION_TOKEN 'st'", 'COPY t FROM ? ACCESS_KEY_ID ? SECRET_ACCESS_KEY ? SESSION_TOKEN ?', "COPY t FROM 's3://b' ACCESS_KEY_ID '***' SECRET_ACCESS_KEY '***' SESSION_TOKEN '***'"],
  ["CREATE PROCEDURE p() AS $$ BEGIN ALTER USER u PASSWORD 'pw'; END $$ LANGUAGE plpgsql", 'CREATE PROCEDURE p () AS ? LANGUAGE plpgsql', "CREATE PROCEDURE p() AS $$ BEGIN ALTER USER u PASSWORD '***'; END $$ LANGUAGE plpgsql"],
  ["EXECUTE 'ALTER USER u PASSWORD ''pw'''", 'EXECUTE ?', "EXECUTE '***'"],
  ["/* /* */ ALTER USER u PASSWORD 'x'", '', "/* /* */ ALTER USER u PASSWORD '***'"],
  ["-- PASSWORD 'x'\nselect 1", 'select ?', "-- PASSWORD '***'\nselect 1"],
  ['select "unterminated ident', 'select ?', "select '***'"],
  ['SELECT count(*), a::int, s.t.c FROM s.t WHERE c IN (1, 2) AND d = $1;', 'SELECT count (*), a::int, s.t.c FROM s.t WHERE c IN (?, ?) AND d = $1;', 'SELECT count(*), a::int, s.t.c FROM s.t WHERE c IN (1, 2) AND d = $1;'],
  ["select x'ff', b'01', n'nn', u&'\\0041' uescape '!'", 'select ?, ?, ?, ? uescape ?', "select x'ff', b'01', n'nn', u&'\\0041' uescape '!'"],
  ['select -1, - 1, a-1', 'select - ?, - ?, a - ?', 'select -1, - 1, a-1'],
  ['', '', ''],
];

test('the corpus of hostile texts: fingerprint and masking', () => {
  for (const [input, fp, masked] of corpus) {
    assert.equal(fingerprint(input), fp, `fingerprint of ${JSON.stringify(input)}`);
    assert.equal(maskPasswords(input), masked, `mask of ${JSON.stringify(input)}`);
  }
});

// A grammar: structure tokens (no digits, no quotes, no "qz") and literal slots holding a marked secret.
const structureToken = fc.constantFrom('SELECT', 'FROM', 'WHERE', 'AND', 'a', 'tbl', 'x_y', '"Quoted Col"', '=', '<>', '+', '-', '*', '(', ')', ',', ';', '::', '.', 'IN', 'LIKE');
const secret = fc.string({ unit: fc.constantFrom('a', 'b', 'Z', ' ', ',', ';', '(', ')', '*', '/', '-', '$', '"', "'", '\\', '\n', 'é', '😀'), maxLength: 12 }).map((s) => `qz${s}`);
/** A literal slot: [its SQL, the secret it holds]. */
const literal: fc.Arbitrary<[string, string]> = fc.oneof(
  secret.map((s): [string, string] => [`'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`, s]),
  secret.map((s): [string, string] => [`E'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, s]),
  secret.map((s): [string, string] => [`$t$${s.replace(/\$/g, '')}$t$`, s.replace(/\$/g, '')]),
  secret.map((s): [string, string] => [`$$${s.replace(/\$/g, '')}$$`, s.replace(/\$/g, '')]),
  fc.tuple(fc.nat(), fc.nat(999)).map(([a, b]): [string, string] => [`${a}.${b}`, `${a}.${b}`]),
  fc.nat().map((a): [string, string] => [`${a}`, `${a}`]),
  fc.nat().map((a): [string, string] => [`${a}e-${a % 7}`, `${a}`]),
);
const comment = secret.map((s) => (s.includes('\n') ? `/* ${s.replace(/[*/]/g, '')} */` : `-- ${s}\n`));
type Slot = { kind: 'token'; text: string } | { kind: 'literal' };
const slots: fc.Arbitrary<Slot[]> = fc.array(fc.oneof(structureToken.map((text): Slot => ({ kind: 'token', text })), fc.constant<Slot>({ kind: 'literal' })), { minLength: 1, maxLength: 14 });

/** Renders a structure with the given literals and random comments/whitespace between tokens. */
function render(structure: Slot[], literals: Array<[string, string]>, comments: string[], spaces: string[]): { sql: string; secrets: string[] } {
  const secrets: string[] = [];
  let sql = '';
  structure.forEach((slot, i) => {
    sql += spaces[i % spaces.length] ?? ' ';
    if (i % 3 === 1 && comments.length > 0) sql += `${comments[i % comments.length]} `;
    if (slot.kind === 'token') sql += slot.text;
    else {
      const [text, value] = literals[i % literals.length] ?? ['0', '0'];
      sql += text;
      secrets.push(value);
    }
  });
  return { sql, secrets };
}
const layout = fc.record({
  literals: fc.array(literal, { minLength: 1, maxLength: 6 }),
  comments: fc.array(comment, { maxLength: 3 }),
  spaces: fc.array(fc.constantFrom(' ', '  ', '\n', '\t '), { minLength: 1, maxLength: 3 }),
});

test('property: a fingerprint never contains a literal value or comment text', () => {
  fc.assert(
    fc.property(slots, layout, (structure, l) => {
      const { sql } = render(structure, l.literals, l.comments, l.spaces);
      const fp = fingerprint(sql);
      assert.ok(!fp.toLowerCase().includes('qz'), `${sql} → ${fp}`);
      assert.ok(!/\d/.test(fp), `${sql} → ${fp}`);
    }),
    runs,
  );
});

test('property: statements differing only in literals, comments and whitespace have the same fingerprint', () => {
  fc.assert(
    fc.property(slots, layout, layout, (structure, l1, l2) => {
      assert.equal(fingerprint(render(structure, l1.literals, l1.comments, l1.spaces).sql), fingerprint(render(structure, l2.literals, l2.comments, l2.spaces).sql));
    }),
    runs,
  );
});

test('property: statements differing in structure have different fingerprints', () => {
  const key = (s: Slot[]): string => s.map((x) => (x.kind === 'token' ? x.text : '?')).join('\u0000');
  fc.assert(
    fc.property(slots, slots, layout, (s1, s2, l) => {
      fc.pre(key(s1) !== key(s2));
      assert.notEqual(fingerprint(render(s1, l.literals, l.comments, l.spaces).sql), fingerprint(render(s2, l.literals, l.comments, l.spaces).sql));
    }),
    runs,
  );
});

test('property: PASSWORD followed by any literal form (any case, comments between) is masked', () => {
  const keyword = fc.constantFrom('PASSWORD', 'password', 'PassWord', 'SECRET_ACCESS_KEY', 'credentials', 'SESSION_TOKEN');
  const between = fc.constantFrom(' ', '\n', ' /* c */ ', ' -- c\n ', ' = ');
  fc.assert(
    fc.property(keyword, between, literal, fc.constantFrom('', ' VALID UNTIL x', '; select y'), (kw, sep, [text, value], tail) => {
      const sql = `ALTER USER bob ${kw}${sep}${text}${tail}`;
      const masked = maskPasswords(sql);
      assert.ok(!masked.includes(value), `${sql} → ${masked}`);
      assert.ok(masked.startsWith(`ALTER USER bob ${kw}`));
    }),
    runs,
  );
});

test('property: any text, random bytes decoded any way included, never makes fingerprint, maskPasswords or statementRecordText throw', () => {
  const hostile = fc.string({ unit: fc.constantFrom("'", '"', '$', '\\', '-', '/', '*', 'E', 'P', 'ASSWORD', ' PASSWORD ', 'a', '1', '.', ' ', '\n', '😀', '\uDC00') });
  const bytes = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString(b.length % 2 === 0 ? 'utf8' : 'latin1'));
  fc.assert(
    fc.property(fc.oneof(hostile, bytes, fc.string({ unit: 'binary' })), fc.integer({ min: 0, max: 64 }), (text, max) => {
      assert.equal(typeof fingerprint(text), 'string');
      assert.equal(typeof maskPasswords(text), 'string');
      const full = statementRecordText('full', text, max);
      assert.ok(Buffer.byteLength(full.text) <= max);
      assert.ok(Buffer.byteLength(statementRecordText('fingerprint', text, max).text) <= max);
    }),
    { ...runs, numRuns: 1000 },
  );
});

test('maskPasswords stays linear on deeply nested comments and dollar quotes', () => {
  const deep = `${'/*'.repeat(20000)} PASSWORD 'x' ${'*/'.repeat(20000)}`;
  const started = process.hrtime.bigint();
  assert.ok(!maskPasswords(deep).includes("'x'"));
  assert.equal(fingerprint(deep), '');
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000);
});

test('truncateUtf8 cuts at a code point boundary, never over the limit', () => {
  assert.deepEqual(truncateUtf8('abc', 3), { text: 'abc', truncated: false });
  assert.deepEqual(truncateUtf8('abcd', 3), { text: 'abc', truncated: true });
  assert.deepEqual(truncateUtf8('aé', 2), { text: 'a', truncated: true });
  assert.deepEqual(truncateUtf8('a😀b', 4), { text: 'a', truncated: true });
  assert.deepEqual(truncateUtf8('a😀b', 5), { text: 'a😀', truncated: true });
  assert.deepEqual(truncateUtf8('€', 0), { text: '', truncated: true });
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.nat(40), (text, max) => {
      const cut = truncateUtf8(text, max);
      assert.ok(Buffer.byteLength(cut.text) <= max);
      assert.ok(text.startsWith(cut.text));
      assert.equal(cut.truncated, cut.text !== text);
    }),
    runs,
  );
});

test('statementRecordText: fingerprint mode, full mode masked and cut with truncated: true', () => {
  assert.deepEqual(statementRecordText('fingerprint', "select 'a'", 4096), { text: 'select ?' });
  assert.deepEqual(statementRecordText('full', "ALTER USER u PASSWORD 'pw'", 4096), { text: "ALTER USER u PASSWORD '***'" });
  // The cut leaves the literal open, so it is masked whole, then cut to the limit again.
  assert.deepEqual(statementRecordText('full', "select 'é'", 9), { text: "select '*", truncated: true });
  assert.deepEqual(statementRecordText('full', "ALTER USER u PASSWORD 'longsecret'", 28), { text: "ALTER USER u PASSWORD '***'", truncated: true });
  assert.deepEqual(statementRecordText('fingerprint', 'select a, b, c', 8), { text: 'select a', truncated: true });
});

/** The fingerprint as first written, over lexSql's token objects: the oracle for the allocation-free one. */
function fingerprintOracle(text: string): string {
  const tight = { before: new Set([',', ';', ')', ']', '.', '::']), after: new Set(['(', '[', '.', '::']) };
  const parts: string[] = [];
  for (const token of lexSql(text)) {
    if (token.kind === 'space' || token.kind === 'comment') continue;
    if (token.kind === 'literal' || token.kind === 'number') {
      parts.push('?');
      if (token.isAmbiguous === true) break;
      continue;
    }
    parts.push(text.slice(token.start, token.end));
  }
  let out = '';
  let previous = '';
  for (const part of parts) {
    if (out !== '' && !tight.before.has(part) && !tight.after.has(previous)) out += ' ';
    out += part;
    previous = part;
  }
  return out;
}

const sqlish = fc.string({ unit: fc.constantFrom('SELECT', ' ', 'a', '1', '.', '::', ':', ',', ';', '(', ')', '[', ']', "'", '"', '$', '$$', '$t$', '--', '/*', '*/', '\n', '\\', 'E', 'U&', '=', '<>', 'é', '😀', 'password'), maxLength: 40 });

test('property: the allocation-free fingerprint equals the token-list fingerprint on any text', () => {
  fc.assert(
    fc.property(sqlish, (text) => assert.equal(fingerprint(text), fingerprintOracle(text))),
    { seed: 99, numRuns: 3000 },
  );
  for (const [text] of corpus) assert.equal(fingerprint(text), fingerprintOracle(text));
});

test('property: the masking shortcut is sound: ASCII with no quote, dollar or secret word lexes to no literal and no secret keyword', () => {
  const plain = fc.string({ unit: fc.constantFrom('SELECT', ' ', 'a', '1', '.', '::', ',', '(', ')', '--', '/*', '*/', '\n', '\\', 'E', 'U&', 'pass', 'word', 'session', '_token', 'access_key', '_id', 'credential'), maxLength: 30 });
  fc.assert(
    fc.property(plain, (text) => {
      fc.pre(!/password|credentials|access_key_id|secret_access_key|session_token|master_symmetric_key|aws_secret/i.test(text));
      const tokens = lexSql(text);
      assert.ok(!tokens.some((t) => t.kind === 'literal'), text);
      assert.ok(!tokens.some((t) => t.kind === 'identifier' && secretKeywords.has(text.slice(t.start, t.end).toUpperCase())), text);
      assert.equal(maskPasswords(text), text);
    }),
    { seed: 100, numRuns: 2000 },
  );
  // Non-ASCII is never short-cut: 'ß' upper-cases to SS, so paßword is read as the keyword and its literal masked.
  assert.equal(maskPasswords("ALTER USER u PAßWORD 'hunter2'"), "ALTER USER u PAßWORD '***'");
});
