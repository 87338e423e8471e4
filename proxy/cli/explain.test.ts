import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors/exit-codes.js';
import { run } from './explain.js';

/** The golden-file configs double as explain fixtures. */
const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'policy');
const config = join(fixtures, 'assume-role.yaml');
const bin = fileURLToPath(new URL('./index.js', import.meta.url));
const alice = 'arn:aws:sts::123456789012:assumed-role/Analyst/alice';

async function explain(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: {} });
  return { code, stdout, stderr };
}

test('admitted: exit 0, rule, rendered user, target and AWS calls with resource ARNs', async () => {
  const r = await explain(['--config', config, '--arn', alice, '--dbname', 'analytics', '--user', 'alice']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ADMITTED: arn:aws:sts::123456789012:assumed-role\/Analyst\/alice \(canonical arn:aws:iam::123456789012:role\/Analyst\) → database "analytics" as user "alice"\n/);
  assert.match(r.stdout, /\n {2}rule: {8}#1 arn:aws:iam::123456789012:role\/Analyst\n/);
  assert.match(r.stdout, /\n {2}dbUser: {6}alice\n/);
  assert.match(r.stdout, /\n {2}assumeRole: {2}arn:aws:iam::123456789012:role\/rsproxy-analytics \(RoleSessionName alice\)\n/);
  assert.match(r.stdout, /\n {4}AssumeRole as the proxy\n {6}sts:AssumeRole on arn:aws:iam::123456789012:role\/rsproxy-analytics\n/);
  assert.match(r.stdout, /\n {4}GetClusterCredentials as arn:aws:iam::123456789012:role\/rsproxy-analytics\n {6}redshift:GetClusterCredentials on arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod\/alice\n/);
  assert.match(r.stdout, /#0 arn:aws:iam::123456789012:role\/BI-\*: principal: /);
  assert.equal(r.stderr, '');
});

test('denied: exit 3 and, for every rule, the first thing that did not match', async () => {
  const r = await explain(['--config', config, '--arn', alice, '--dbname', 'analytics', '--user', 'admin']);
  assert.equal(r.code, 3);
  assert.match(r.stdout, /^DENIED: /);
  assert.match(r.stdout, /#0 arn:aws:iam::123456789012:role\/BI-\*: principal: principal .* does not match arn:aws:iam::123456789012:role\/Analyst\n/);
  assert.match(r.stdout, /#1 arn:aws:iam::123456789012:role\/Analyst: user: rendered dbUser "alice" is not the startup user "admin"\n/);
  assert.match(r.stdout, /#2 arn:aws:iam::123456789012:user\/bob: principal: /);
  const db = await explain(['--config', config, '--arn', alice, '--dbname', 'lake', '--user', 'alice']);
  assert.equal(db.code, 3);
  assert.match(db.stdout, /#1 arn:aws:iam::123456789012:role\/Analyst: database: database "lake" is not in the rule's databases \[analytics\]/);
});

test('--json: one JSON object with the same content', async () => {
  const r = await explain(['--config', config, '--arn', 'arn:aws:sts::123456789012:assumed-role/BI-east/carol', '--dbname', 'lake', '--json']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim().split('\n').length, 1, 'one line');
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(j), ['admitted', 'identity', 'database', 'user', 'rule', 'dbUser', 'dbGroups', 'autoCreate', 'assumeRole', 'roleSessionName', 'target', 'awsCalls', 'rules', 'notes']);
  assert.equal(j['admitted'], true);
  assert.equal(j['user'], null);
  assert.deepEqual(j['rule'], { index: 0, principal: 'arn:aws:iam::123456789012:role/BI-*' });
  assert.equal(j['dbUser'], 'IAMR:rsproxy-lake-bi');
  assert.deepEqual(j['target'], { kind: 'workgroup', workgroup: 'wg-lake', region: 'eu-west-1', dbName: 'lake' });
  const denied = await explain(['--config', config, '--arn', alice, '--dbname', 'lake', '--json']);
  assert.equal(denied.code, 3);
  const d = JSON.parse(denied.stdout) as { admitted: boolean; rules: Array<{ index: number; matched: boolean; failed: string; reason: string }> };
  assert.equal(d.admitted, false);
  assert.deepEqual(d.rules.map((x) => [x.index, x.matched, x.failed]), [[0, false, 'principal'], [1, false, 'database'], [2, false, 'principal']]);
});

test('bad ARN, unknown database, bad config: exit 1 with one clear message; missing flags are usage errors', async () => {
  const bad = await explain(['--config', config, '--arn', 'arn:aws:iam::123456789012:role/team/Analyst', '--dbname', 'analytics']);
  assert.equal(bad.code, 1);
  assert.equal(bad.stdout, '');
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /^rsproxy explain: --arn "arn:aws:iam::123456789012:role\/team\/Analyst" is not a principal ARN/);
  const db = await explain(['--config', config, '--arn', alice, '--dbname', 'nope']);
  assert.equal(db.code, 1);
  assert.equal(db.stderr, 'rsproxy explain: --database "nope" is not in the config\'s databases (analytics, lake)\n');
  const missing = await explain(['--config', '/nonexistent/rsproxy.yaml', '--arn', alice, '--dbname', 'analytics']);
  assert.equal(missing.code, 1);
  await assert.rejects(explain(['--config', config, '--dbname', 'analytics']), UsageError);
  await assert.rejects(explain(['--config', config, '--arn', alice, '--dbname', 'analytics', '--account', 'x']), UsageError);
});

test('the binary: explain exits 0 / 3 / 1, policy is listed', async () => {
  const rsproxy = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [bin, ...args], { timeout: 20_000 }, (err, stdout, stderr) => done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }));
    });
  assert.equal((await rsproxy(['explain', '--config', config, '--arn', alice, '--dbname', 'analytics'])).code, 0);
  assert.equal((await rsproxy(['explain', '--config', config, '--arn', alice, '--database', 'lake'])).code, 3, 'the older --database still works');
  assert.equal((await rsproxy(['explain', '--config', config, '--arn', 'nope', '--dbname', 'lake'])).code, 1);
  const help = await rsproxy(['--help']);
  assert.match(help.stdout, /^ {2}explain +which rule admits/m);
  assert.match(help.stdout, /^ {2}policy +print the least-privilege IAM policy/m);
  const explainHelp = await rsproxy(['explain', '--help']);
  assert.match(explainHelp.stdout, /^Usage: rsproxy explain --config FILE --arn ARN --dbname D \[options\]\n/);
  assert.doesNotMatch(explainHelp.stdout, /--database/, 'the old spelling is a hidden alias');
});
