/**
 * The real AWS CLI v2 (Debian `awscli`, /usr/bin/aws) against our surfaces: `aws eks get-token` tokens log in
 * through the proxy (docs/design/token.md §3, case 19), and `aws sts`, `aws redshift` and `aws redshift-serverless` work
 * against the emulator, whose DbPasswords then log in to PostgreSQL.
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { getTestPki } from '../../testkit/certs.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { iamAudience, iamClusterId, iamRegion, startIamStack } from '../../testkit/iam-stack.js';
import type { IamPrincipal, IamStack } from '../../testkit/iam-stack.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';

const awsBin = process.env['RSPROXY_TEST_AWS_CLI'] ?? '/usr/bin/aws';
const hasAwsCli = commandWorks(awsBin);
const workgroup = 'analytics-wg';

function requireAwsCli(t: TestContext): boolean {
  return requirePg(t) && requireTool(t, `AWS CLI at ${awsBin} (Debian awscli)`, hasAwsCli);
}

/** Runs the CLI with only `who`'s keys in a clean environment (no config files, no IMDS); parses its JSON output. */
function aws(who: IamPrincipal, args: string[], home: string): Promise<Record<string, unknown>> {
  const env: Record<string, string> = {
    PATH: '/usr/bin:/bin',
    HOME: home,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    AWS_DEFAULT_REGION: iamRegion,
    AWS_ACCESS_KEY_ID: who.accessKeyId,
    AWS_SECRET_ACCESS_KEY: who.secretAccessKey,
    ...(who.sessionToken === undefined ? {} : { AWS_SESSION_TOKEN: who.sessionToken }),
  };
  return new Promise((resolve, reject) => {
    execFile(awsBin, [...args, '--output', 'json'], { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`aws ${args.slice(0, 2).join(' ')} failed: ${stderr.slice(-800)}`, { cause: err }));
      else resolve(JSON.parse(stdout) as Record<string, unknown>);
    });
  });
}

/** The presigned URL inside a k8s-aws-v1 token. */
function eksUrl(token: string): URL {
  assert.match(token, /^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
  return new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('latin1'));
}

describe('the real AWS CLI v2', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let stack: IamStack | undefined;
  let home = '';
  const principal = (name: string): IamPrincipal => {
    const p = stack?.principals.get(name);
    assert.ok(p !== undefined, `principal ${name}`);
    return p;
  };
  const eksToken = async (who: IamPrincipal, clusterName: string, region = iamRegion): Promise<string> => {
    const out = await aws(who, ['eks', 'get-token', '--cluster-name', clusterName, '--region', region], home);
    return (out['status'] as { token: string }).token;
  };

  before(async () => {
    if (!pgAvailable() || !hasAwsCli) return;
    home = mkdtempSync(join(tmpdir(), 'rsproxy-awscli-'));
    stack = await startIamStack({
      workgroups: [workgroup],
      configure: (config) => {
        config.identity['acceptEksTokens'] = true;
      },
    });
  });
  after(async () => {
    await stack?.close();
    if (home !== '') rmSync(home, { recursive: true, force: true });
  });

  test('aws eks get-token --cluster-name <audience> presigns at the regional STS host (us-east-1 too), with a colon in the name', async (t) => {
    if (!requireAwsCli(t)) return;
    for (const region of [iamRegion, 'us-east-1']) {
      const url = eksUrl(await eksToken(principal('alice'), iamAudience, region));
      assert.equal(url.host, `sts.${region}.amazonaws.com`, 'docs/design/token.md §3 "unverified: regional host" holds for CLI v2');
      assert.equal(url.searchParams.get('X-Amz-SignedHeaders'), 'host;x-k8s-aws-id');
      assert.equal(url.searchParams.get('X-Amz-Expires'), '60');
    }
  });

  test('an `aws eks get-token` token logs in through the proxy; one for another cluster name gets 28P01 after one STS call (case 19)', async (t) => {
    if (!requireAwsCli(t)) return;
    assert.ok(stack !== undefined);
    stack.emulator.counters.reset();
    const client = await stack.connect(await eksToken(principal('alice'), iamAudience), 'alice');
    try {
      const { rows } = await client.query<{ who: string }>('SELECT current_user AS who');
      assert.equal(rows[0]?.who, 'IAMA:alice');
    } finally {
      await client.end();
    }
    assert.equal(stack.emulator.counters.get('GetCallerIdentity', 'ok'), 1);
    const refused = await stack.loginError(await eksToken(principal('alice'), 'prod-eks'), 'alice');
    assert.equal(refused.code, '28P01');
    assert.equal(stack.emulator.counters.get('GetCallerIdentity', 'SignatureDoesNotMatch'), 1);
    assert.equal(stack.emulator.counters.get('GetClusterCredentials', 'ok'), 1, 'the refused token cost no credentials call');
  });

  test('aws sts get-caller-identity against the emulator answers the caller', async (t) => {
    if (!requireAwsCli(t)) return;
    assert.ok(stack !== undefined);
    const alice = principal('alice');
    const out = await aws(alice, ['sts', 'get-caller-identity', '--endpoint-url', stack.emulator.url], home);
    assert.deepEqual(out, { UserId: alice.userId, Account: alice.accountId, Arn: alice.arn });
  });

  test('aws redshift describe-clusters and get-cluster-credentials against the emulator; the DbPassword logs in to PostgreSQL', async (t) => {
    if (!requireAwsCli(t)) return;
    assert.ok(stack !== undefined);
    const proxy = principal('proxy');
    const endpoint = ['--endpoint-url', stack.emulator.url];
    const described = await aws(proxy, ['redshift', 'describe-clusters', '--cluster-identifier', iamClusterId, ...endpoint], home);
    const cluster = (described['Clusters'] as Array<{ ClusterIdentifier: string; Endpoint: { Address: string; Port: number } }>)[0];
    assert.equal(cluster?.ClusterIdentifier, iamClusterId);
    assert.equal(cluster?.Endpoint.Port, stack.pg.port);

    const creds = await aws(proxy, ['redshift', 'get-cluster-credentials', '--cluster-identifier', iamClusterId, '--db-user', 'carol', '--db-name', 'postgres', '--auto-create', '--duration-seconds', '900', ...endpoint], home);
    assert.equal(creds['DbUser'], 'IAMA:carol');
    assert.equal(typeof creds['DbPassword'], 'string');
    assert.ok(Date.parse(String(creds['Expiration'])) > Date.now() + 800_000);
    await assertLogsIn(stack, String(creds['DbUser']), String(creds['DbPassword']));

    await assert.rejects(
      aws(proxy, ['redshift', 'get-cluster-credentials', '--cluster-identifier', 'no-such-cluster', '--db-user', 'carol', ...endpoint], home),
      /ClusterNotFound/,
    );
  });

  test('aws redshift-serverless get-workgroup and get-credentials against the emulator; the DbPassword logs in to PostgreSQL', async (t) => {
    if (!requireAwsCli(t)) return;
    assert.ok(stack !== undefined);
    const alice = principal('alice');
    const endpoint = ['--endpoint-url', stack.emulator.url];
    const wg = await aws(alice, ['redshift-serverless', 'get-workgroup', '--workgroup-name', workgroup, ...endpoint], home);
    const address = (wg['workgroup'] as { endpoint: { port: number } }).endpoint;
    assert.equal(address.port, stack.pg.port);
    const creds = await aws(alice, ['redshift-serverless', 'get-credentials', '--workgroup-name', workgroup, '--db-name', 'postgres', '--duration-seconds', '900', ...endpoint], home);
    assert.equal(creds['dbUser'], 'IAMR:Analyst');
    await assertLogsIn(stack, String(creds['dbUser']), String(creds['dbPassword']));
  });
});

async function assertLogsIn(stack: IamStack, user: string, password: string): Promise<void> {
  const pki = await getTestPki();
  const client = new pg.Client({ host: 'localhost', port: stack.pg.port, user, password, database: 'postgres', ssl: { ca: pki.caPem } });
  await client.connect();
  try {
    const { rows } = await client.query<{ who: string }>('SELECT current_user AS who');
    assert.equal(rows[0]?.who, user);
  } finally {
    await client.end();
  }
}
