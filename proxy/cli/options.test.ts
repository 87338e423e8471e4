import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../errors/exit-codes.js';
import { specOf } from './command-specs.js';
import { isSet, listValue, numberValue, parseCommand, stringValue, type CommandSpec } from './options.js';

const spec: CommandSpec = {
  name: 'demo-cmd',
  summary: 'a table for the parser tests',
  options: [
    { name: 'dbname', type: 'string', aliases: ['db-name', 'database'], valueName: 'D', description: 'database', required: true },
    { name: 'port', type: 'number', valueName: 'P', default: 5439, min: 1, max: 65535, description: 'port' },
    { name: 'mode', type: 'string', valueName: 'M', default: 'b', allowed: ['a', 'b'], valueAliases: { legacy: 'a' }, description: 'mode' },
    { name: 'groups', type: 'list', valueName: 'G1,G2', description: 'groups' },
    { name: 'json', type: 'boolean', description: 'json' },
    { name: 'config', short: 'c', type: 'string', valueName: 'FILE', description: 'config' },
  ],
  exitCodes: '0 ok',
};

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && e.exitCode === 1 && re.test(e.message) && e.message.endsWith('(see `rsproxy demo-cmd --help`)');

test('values are typed and defaults applied; aliases and short forms set the documented name', () => {
  const a = parseCommand(spec, ['--db-name', 'dev', '--groups', ' a, b ,,c', '--json', '-c', 'f.yaml']);
  assert.equal(stringValue(a, 'dbname'), 'dev');
  assert.equal(numberValue(a, 'port'), 5439);
  assert.equal(stringValue(a, 'mode'), 'b');
  assert.deepEqual(listValue(a, 'groups'), ['a', 'b', 'c']);
  assert.equal(isSet(a, 'json'), true);
  assert.equal(stringValue(a, 'config'), 'f.yaml');
  assert.equal('db-name' in a.values, false, 'only documented names in the result');
  const b = parseCommand(spec, ['--database=lake', '--port', '6543', '--mode', 'legacy']);
  assert.deepEqual([stringValue(b, 'dbname'), numberValue(b, 'port'), stringValue(b, 'mode'), isSet(b, 'json'), listValue(b, 'groups')], ['lake', 6543, 'a', false, []]);
});

test('usage errors name the flag and point to the command\'s --help', () => {
  assert.throws(() => parseCommand(spec, ['--dbname', 'd', '--nope']), usage(/^unknown option --nope /));
  assert.throws(() => parseCommand(spec, ['--dbname', 'd', '-x']), usage(/^unknown option -x /));
  assert.throws(() => parseCommand(spec, []), usage(/^--dbname is required /));
  assert.throws(() => parseCommand(spec, ['--dbname', '']), usage(/^--dbname is required /));
  assert.throws(() => parseCommand(spec, ['--dbname']), usage(/^--dbname needs a value /));
  assert.throws(() => parseCommand(spec, ['--dbname', 'd', '--json=yes']), usage(/^--json takes no value /));
  assert.throws(() => parseCommand(spec, ['--dbname', 'd', '--port', '0']), usage(/^--port: must be an integer 1\.\.65535 \(got "0"\)/));
  assert.throws(() => parseCommand(spec, ['--dbname', 'd', '--port', '5e3']), usage(/^--port: must be an integer 1\.\.65535 \(got "5e3"\)/));
  assert.throws(() => parseCommand(spec, ['--dbname', 'd', '--mode', 'c']), usage(/^--mode: must be one of a, b \(got "c"\)/));
  assert.throws(() => parseCommand(spec, ['--dbname', 'd', 'stray']), usage(/^unexpected argument stray /));
  assert.throws(() => parseCommand(spec, ['--dbname', 'd', '--database', 'e']), usage(/^--dbname is given more than once \(as --dbname and --database\)/));
});

test('positionals after -- only, where the table says so (connect)', () => {
  const connect = specOf('connect');
  const base = ['--host', 'h', '--dbname', 'd'];
  assert.deepEqual(parseCommand(connect, [...base, '--', '-c', 'select 1']).positionals, ['-c', 'select 1']);
  assert.throws(() => parseCommand(connect, [...base, 'select']), usage2('connect', /unexpected argument "select"; put psql arguments after --/));
});

function usage2(name: string, re: RegExp) {
  return (e: unknown) => e instanceof UsageError && re.test(e.message) && e.message.includes(`rsproxy ${name} --help`);
}

test('the old database spellings work where they used to: credentials --db-name, explain --database, connect/url/tunnel --dbname', () => {
  const cred = parseCommand(specOf('credentials'), ['--cluster', 'c', '--db-user', 'u', '--db-name', 'dev']);
  assert.equal(stringValue(cred, 'dbname'), 'dev');
  const explain = parseCommand(specOf('explain'), ['--config', 'x.yaml', '--arn', 'arn:aws:iam::123456789012:role/R', '--database', 'lake']);
  assert.equal(stringValue(explain, 'dbname'), 'lake');
  for (const name of ['connect', 'url', 'tunnel']) {
    const extra = name === 'url' ? ['--format', 'libpq'] : [];
    assert.equal(stringValue(parseCommand(specOf(name), [...extra, '--host', 'h', '--dbname', 'dev']), 'dbname'), 'dev', name);
  }
});

test('sslmode: the tunnel takes verify-full, verify-ca and require only; url takes every libpq mode', () => {
  const tunnel = (mode: string) => parseCommand(specOf('tunnel'), ['--host', 'h', '--sslmode', mode]);
  for (const mode of ['verify-full', 'verify-ca', 'require']) assert.equal(stringValue(tunnel(mode), 'sslmode'), mode);
  for (const mode of ['disable', 'allow', 'prefer']) assert.throws(() => tunnel(mode), usage2('tunnel', /--sslmode: must be one of verify-full, verify-ca, require/));
  for (const mode of ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']) {
    assert.equal(stringValue(parseCommand(specOf('url'), ['--format', 'libpq', '--host', 'h', '--dbname', 'd', '--sslmode', mode]), 'sslmode'), mode);
  }
});

test('url --driver pgjdbc is still read as postgresql', () => {
  assert.equal(stringValue(parseCommand(specOf('url'), ['--format', 'jdbc', '--host', 'h', '--dbname', 'd', '--driver', 'pgjdbc']), 'driver'), 'postgresql');
});
