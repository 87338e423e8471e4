import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors/exit-codes.js';
import { run, type WorkgroupIdResolver } from './policy.js';

/** Golden files: test/fixtures/policy/<config>.yaml → <golden>.json. RSPROXY_UPDATE_GOLDEN=1 rewrites them. */
const fixtures = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'policy');
const account = '123456789012';
const fakeIds: WorkgroupIdResolver = async () => ({ 'eu-west-1/wg-lake': '0b6d2a3e-1111-4c2d-9e8f-123456789abc' });

async function policy(args: string[], resolver: WorkgroupIdResolver = fakeIds) {
  let stdout = '';
  let stderr = '';
  const code = await run(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: {} }, resolver);
  return { code, stdout, stderr };
}

const goldens: Array<{ golden: string; config: string; args?: string[]; warnings: number }> = [
  { golden: 'provisioned', config: 'provisioned', warnings: 0 },
  { golden: 'template', config: 'template', warnings: 0 },
  { golden: 'autocreate', config: 'autocreate', warnings: 0 },
  { golden: 'serverless', config: 'serverless', warnings: 1 },
  { golden: 'serverless-resolved', config: 'serverless', args: ['--resolve'], warnings: 0 },
  { golden: 'assume-role', config: 'assume-role', warnings: 1 },
  { golden: 'assume-role.rsproxy-lake-bi', config: 'assume-role', args: ['--role', 'arn:aws:iam::123456789012:role/rsproxy-lake-bi', '--resolve'], warnings: 0 },
  { golden: 'assume-role.rsproxy-analytics', config: 'assume-role', args: ['--role', 'arn:aws:iam::123456789012:role/rsproxy-analytics'], warnings: 0 },
  { golden: 'gov', config: 'gov', warnings: 1 },
];

for (const g of goldens) {
  test(`policy golden ${g.golden}.json (byte for byte)`, async () => {
    const r = await policy(['--config', join(fixtures, `${g.config}.yaml`), '--account', account, ...(g.args ?? [])]);
    assert.equal(r.code, 0, r.stderr);
    const path = join(fixtures, `${g.golden}.json`);
    if (process.env['RSPROXY_UPDATE_GOLDEN'] === '1') writeFileSync(path, r.stdout);
    assert.equal(r.stdout, readFileSync(path, 'utf8'), `${path} (RSPROXY_UPDATE_GOLDEN=1 regenerates)`);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('warning: workgroup')).length, g.warnings, r.stderr);
    const doc = JSON.parse(r.stdout) as { Version: string; Statement: Array<{ Sid: string; Effect: string; Action: string; Resource: string[] }> };
    assert.equal(doc.Version, '2012-10-17');
    const sids = doc.Statement.map((s) => s.Sid);
    assert.deepEqual(sids, [...sids].sort(), 'statements sorted by Sid');
    assert.equal(new Set(sids).size, sids.length, 'Sids unique');
    for (const s of doc.Statement) {
      assert.match(s.Sid, /^[A-Za-z0-9]+$/);
      assert.equal(s.Effect, 'Allow');
      assert.deepEqual(s.Resource, [...s.Resource].sort(), `${s.Sid} resources sorted`);
      assert.ok(!s.Resource.includes('*'), `${s.Sid}: never a bare * resource`);
      assert.ok(!s.Action.includes('*'), `${s.Sid}: never a wildcard action`);
    }
  });
}

test('the same config always prints the same bytes', async () => {
  const args = ['--config', join(fixtures, 'assume-role.yaml'), '--account', account];
  assert.equal((await policy(args)).stdout, (await policy(args)).stdout);
});

test('what the policy holds, per docs/design/surface.md §10', async () => {
  const text = (await policy(['--config', join(fixtures, 'template.yaml'), '--account', account])).stdout;
  const byAction = new Map((JSON.parse(text) as { Statement: Array<{ Action: string; Resource: string[] }> }).Statement.map((s) => [s.Action, s.Resource]));
  assert.deepEqual(byAction.get('redshift:GetClusterCredentials'), [
    'arn:aws:redshift:eu-west-1:123456789012:dbname:analytics-prod/dev',
    'arn:aws:redshift:eu-west-1:123456789012:dbname:etl-prod/etl',
    'arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod/*',
    'arn:aws:redshift:eu-west-1:123456789012:dbuser:etl-prod/svc_etl',
    'arn:aws:redshift:eu-west-1:123456789012:dbuser:etl-prod/u_*',
  ]);
  assert.equal(byAction.has('redshift:CreateClusterUser'), false, 'no autoCreate rule, no CreateClusterUser');
  const fixed = JSON.parse((await policy(['--config', join(fixtures, 'provisioned.yaml'), '--account', account])).stdout) as { Statement: Array<{ Action: string; Resource: string[] }> };
  const describe = fixed.Statement.find((s) => s.Action === 'redshift:DescribeClusters');
  assert.deepEqual(describe?.Resource, ['arn:aws:redshift:eu-west-1:123456789012:cluster:analytics-prod'], 'the fixed-host cluster is never described');
});

test('assumeRole: the proxy gets AssumeRole/TagSession and discovery, the role gets the credentials calls', async () => {
  const r = await policy(['--config', join(fixtures, 'assume-role.yaml'), '--account', account]);
  assert.match(r.stderr, /note: logins under rules with assumeRole arn:aws:iam::123456789012:role\/rsproxy-analytics get credentials as that role/);
  const doc = JSON.parse(r.stdout) as { Statement: Array<{ Action: string; Resource: string[] }> };
  const actions = doc.Statement.map((s) => s.Action);
  assert.ok(!actions.includes('redshift-serverless:GetCredentials'), 'GetCredentials is made as the role');
  assert.deepEqual(doc.Statement.find((s) => s.Action === 'sts:TagSession')?.Resource, ['arn:aws:iam::123456789012:role/rsproxy-lake-bi'], 'TagSession only where groups travel as a tag');
  assert.deepEqual(doc.Statement.find((s) => s.Action === 'redshift:GetClusterCredentials')?.Resource, [
    'arn:aws:redshift:eu-west-1:123456789012:dbname:analytics-prod/dev',
    'arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics-prod/bob',
  ], "only bob's rule mints as the proxy");
});

test('--resolve looks ids up; a lookup failure is a runtime error; bad input is exit 1', async () => {
  const failing: WorkgroupIdResolver = async () => {
    throw new Error('GetWorkgroup failed: AccessDeniedException');
  };
  await assert.rejects(policy(['--config', join(fixtures, 'serverless.yaml'), '--account', account, '--resolve'], failing), /AccessDeniedException/);
  await assert.rejects(policy(['--config', join(fixtures, 'serverless.yaml'), '--account', '12345']), UsageError);
  await assert.rejects(policy(['--config', join(fixtures, 'serverless.yaml')]), UsageError);
  const role = await policy(['--config', join(fixtures, 'serverless.yaml'), '--account', account, '--role', 'arn:aws:iam::123456789012:role/nope']);
  assert.equal(role.code, 1);
  assert.match(role.stderr, /is not the assumeRole of any rule/);
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-policy-'));
  try {
    writeFileSync(join(dir, 'bad.yaml'), 'rules: 3\n');
    const bad = await policy(['--config', join(dir, 'bad.yaml'), '--account', account]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
