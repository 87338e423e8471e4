import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { commandSpecs, specOf } from './command-specs.js';
import { commands } from './dispatch.js';
import { renderCommandHelp } from './help.js';
import { sslModes } from './conn-strings.js';

const bin = fileURLToPath(new URL('./index.js', import.meta.url));

function rsproxy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

const expected = ['serve', 'demo', 'token', 'connect', 'url', 'credentials', 'tunnel', 'check-config', 'explain', 'policy', 'audit', 'version'];

test('every command has an option table, and every table a command', () => {
  assert.deepEqual(commandSpecs.map((s) => s.name), expected);
  assert.deepEqual(Object.keys(commands).sort(), [...expected].sort(), 'a command added to dispatch.ts needs its table in command-specs.ts');
});

for (const spec of commandSpecs) {
  test(`rsproxy ${spec.name} --help and -h: its own usage, every documented option, no hidden alias, exit 0`, async () => {
    for (const flag of ['--help', '-h']) {
      const r = await rsproxy([spec.name, flag]);
      assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
      assert.ok(r.stdout.startsWith(`Usage: rsproxy ${spec.name}`), `${flag}: ${r.stdout.slice(0, 80)}`);
      assert.equal(r.stdout, renderCommandHelp(spec));
      for (const o of spec.options) assert.match(r.stdout, new RegExp(`--${o.name}\\b`), `--${o.name}`);
      for (const alias of spec.options.flatMap((o) => o.aliases ?? [])) assert.doesNotMatch(r.stdout, new RegExp(`--${alias}\\b`), `hidden --${alias}`);
    }
  });

  test(`rsproxy ${spec.name} --bogus: exit 1 naming the flag and pointing to its --help`, async () => {
    const r = await rsproxy([spec.name, '--bogus']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^rsproxy ${spec.name}: unknown option --bogus \\(see \`rsproxy ${spec.name} --help\`\\)\\n$`));
  });
}

test('--help wins over other flags and works after them; `rsproxy help <command>` prints the same', async () => {
  const r = await rsproxy(['tunnel', '--host', 'h', '--bogus', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, renderCommandHelp(specOf('tunnel')));
  assert.equal((await rsproxy(['help', 'tunnel'])).stdout, r.stdout);
});

test('after -- the flags belong to psql: connect -- --help is not connect\'s help', async () => {
  const r = await rsproxy(['connect', '--', '--help']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--host is required/);
});

test('each command lists the sslmode values it accepts: the tunnel three, the libpq clients all six', () => {
  const allowed = (name: string) => specOf(name).options.find((o) => o.name === 'sslmode')?.allowed;
  assert.deepEqual(allowed('tunnel'), ['verify-full', 'verify-ca', 'require']);
  for (const name of ['connect', 'url', 'credentials']) assert.deepEqual(allowed(name), sslModes, name);
  assert.match(renderCommandHelp(specOf('tunnel')), /One of: verify-full, verify-ca, require\. Default verify-full\./);
  assert.doesNotMatch(renderCommandHelp(specOf('tunnel')), /disable|prefer|allow,/);
  assert.match(renderCommandHelp(specOf('url')), /One of: disable, allow, prefer, require, verify-ca, verify-full\./);
  for (const name of expected.filter((n) => !['connect', 'url', 'credentials', 'tunnel'].includes(n))) assert.equal(allowed(name), undefined, name);
});

test('--dbname is the documented name in every command that takes a database', () => {
  for (const spec of commandSpecs) {
    const db = spec.options.find((o) => o.name === 'dbname' || (o.aliases ?? []).includes('db-name') || o.name === 'database' || o.name === 'db-name');
    if (db === undefined) continue;
    assert.equal(db.name, 'dbname', spec.name);
    assert.deepEqual(db.aliases, ['db-name', 'database'], spec.name);
  }
  assert.deepEqual(commandSpecs.filter((s) => s.options.some((o) => o.name === 'dbname')).map((s) => s.name), ['connect', 'url', 'credentials', 'tunnel', 'explain']);
});
