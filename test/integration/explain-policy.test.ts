/**
 * docs/design/surface.md §10 through the real stack (proxy + AWS emulator + PostgreSQL): for every row of the
 * shared rule table, `rsproxy explain` and a real login agree (admitted or denied, same database user
 * and groups, read back through the proxy); and with the generated `rsproxy policy` (proxy and
 * assumeRole role) installed in the emulator, every admitted login still works while calls outside
 * the rules are refused with AccessDenied: the policy is sufficient and narrow.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { stringify } from 'yaml';
import { createAssumeRoleApi } from '../../auth/assume-role.js';
import { createRedshiftApi } from '../../auth/redshift-minter.js';
import { createServerlessApi } from '../../auth/serverless-minter.js';
import { tableDatabases, tableGroups, tableLakeRole, tablePrincipal, tablePrincipals, tableRows, tableRules } from '../../testkit/auth-rule-table.js';
import type { Explanation } from '../../auth/index.js';
import { silentLogger } from '../../auth/types.js';
import { run as runExplain } from '../../proxy/cli/explain.js';
import { run as runPolicy } from '../../proxy/cli/policy.js';
import { defaultPrincipals, iamAccountId, iamClusterId, iamRegion, startIamStack } from '../../testkit/iam-stack.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';

const otherCluster = 'other-cluster';
const workgroup = 'wg-lake';
const proxyArn = `arn:aws:iam::${iamAccountId}:user/rsproxy`;

async function cli(run: (argv: string[], io: { stdout: (s: string) => void; stderr: (s: string) => void; env: NodeJS.ProcessEnv }) => Promise<number>, argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: process.env });
  return { code, stdout, stderr };
}

describe('explain and policy against real logins', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let stack: IamStack | undefined;
  let dir = '';
  let configPath = '';
  let proxyPolicy = '';
  before(async () => {
    if (!pgAvailable()) return;
    stack = await startIamStack({
      logLevel: 'warn',
      principals: tablePrincipals.filter((p) => !defaultPrincipals.some((d) => d.name === p.name)),
      clusters: [{ identifier: otherCluster }],
      workgroups: [workgroup],
      configure: (config) => {
        const dev = config.databases['dev'];
        assert.ok(dev !== undefined);
        const { cluster: _c, dbName: _d, ...base } = dev as { cluster: string; dbName: string; region: string; engine: 'postgres'; upstreamTls: { mode: 'verify-full'; caFile: string } };
        config.databases = Object.fromEntries(Object.entries(tableDatabases(base, iamClusterId, otherCluster, workgroup)).map(([k, v]) => [k, { ...v }]));
        config.rules = tableRules.map((r) => ({ ...r }));
      },
    });
    for (const p of defaultPrincipals) {
      const t = tablePrincipals.find((x) => x.name === p.name);
      if (t !== undefined) assert.equal(t.arn, p.arn, `the table's ${p.name} is the stack's`);
    }
    for (const g of tableGroups) await stack.pg.query(`CREATE ROLE ${g} NOLOGIN`);
    dir = mkdtempSync(join(tmpdir(), 'rsproxy-explain-'));
    configPath = join(dir, 'rsproxy.yaml');
    writeFileSync(configPath, stringify(stack.config));
    // The proxy's policy (workgroup ids looked up in the emulator: --resolve) and its role's.
    const proxy = await cli(runPolicy, ['--config', configPath, '--account', iamAccountId, '--resolve']);
    assert.equal(proxy.code, 0, proxy.stderr);
    assert.doesNotMatch(proxy.stderr, /warning: workgroup/, '--resolve leaves no wildcarded workgroup');
    proxyPolicy = proxy.stdout;
    const role = await cli(runPolicy, ['--config', configPath, '--account', iamAccountId, '--resolve', '--role', tableLakeRole]);
    assert.equal(role.code, 0, role.stderr);
    stack.emulator.setIdentityPolicy(proxyArn, JSON.parse(proxyPolicy));
    stack.emulator.setIdentityPolicy(tableLakeRole, JSON.parse(role.stdout));
  });
  after(async () => {
    await stack?.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });
  const ready = (t: Parameters<typeof requirePg>[0]): IamStack | undefined => {
    if (!requirePg(t)) return undefined;
    assert.ok(stack !== undefined, 'stack did not start');
    return stack;
  };

  test('every table row: explain and a real login agree (admitted/denied, database user, groups) under the generated policy', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    for (const row of tableRows) {
      const arn = tablePrincipal(row.principal).arn;
      const ex = await cli(runExplain, ['--config', configPath, '--arn', arn, '--dbname', row.database, '--user', row.user, '--json']);
      const e = JSON.parse(ex.stdout) as Explanation;
      assert.equal(e.admitted, row.expect.admitted, `${row.name}: the table's expectation`);
      assert.equal(ex.code, e.admitted ? 0 : 3, row.name);
      const token = await s.mint(row.principal);
      if (!e.admitted) {
        const err = await s.loginError(token, row.user, row.database);
        assert.equal(err.code, '28P01', `${row.name}: denied by explain, refused by the proxy`);
        continue;
      }
      const client: pg.Client = await s.connect(token, row.user, row.database).catch((err: unknown) => assert.fail(`${row.name}: explain admits, the login failed: ${String(err)}`));
      try {
        const who = await client.query<{ u: string }>('SELECT current_user AS u');
        const groups = await client.query<{ g: string }>(
          'SELECT r.rolname AS g FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = current_user ORDER BY 1',
        );
        const isWorkgroup = e.target?.kind === 'workgroup';
        const expectedUser = isWorkgroup ? e.dbUser : `${e.autoCreate === true ? 'IAMA' : 'IAM'}:${e.dbUser ?? ''}`;
        assert.equal(who.rows[0]?.u, expectedUser, `${row.name}: current_user`);
        // Cluster logins are members of their base user plus the groups; workgroup logins of the tagged roles.
        const expectedGroups = [...(e.dbGroups ?? []), ...(isWorkgroup ? [] : [e.dbUser ?? ''])].sort();
        assert.deepEqual(groups.rows.map((r) => r.g), expectedGroups, `${row.name}: group membership`);
      } finally {
        await client.end();
      }
    }
    const denied = ['DescribeClusters', 'GetClusterCredentials', 'GetWorkgroup', 'GetCredentials', 'AssumeRole'].map((op) => s.emulator.counters.get(op, 'AccessDenied') + s.emulator.counters.get(op, 'AccessDeniedException'));
    assert.deepEqual(denied, [0, 0, 0, 0, 0], 'the generated policy allowed every call the admitted logins made');
  });

  test('the policy is narrow: calls as the proxy outside the rules get AccessDenied', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const proxy = s.principals.get('proxy');
    assert.ok(proxy !== undefined);
    const credentials = { accessKeyId: proxy.accessKeyId, secretAccessKey: proxy.secretAccessKey };
    const redshift = createRedshiftApi({ logger: silentLogger, endpoint: s.emulator.url, credentials });
    const serverless = createServerlessApi({ logger: silentLogger, endpoint: s.emulator.url, credentials });
    const sts = createAssumeRoleApi({ logger: silentLogger, endpoint: s.emulator.url, credentials });
    try {
      const mint = (clusterId: string, dbUser: string, dbGroups: string[] = [], dbName = 'postgres', autoCreate = true) =>
        redshift.getClusterCredentials(iamRegion, { clusterId, dbUser, dbName, dbGroups, autoCreate, durationSeconds: 900 });
      const accessDenied = (action: string, resource: string) => (err: Error) => {
        assert.match(err.message, /AccessDenied/);
        assert.ok(err.message.includes(`is not authorized to perform: ${action} on resource: ${resource}`), err.message);
        return true;
      };
      const arn = (r: string) => `arn:aws:redshift:${iamRegion}:${iamAccountId}:${r}`;
      // Only bob (a literal user) reaches the second cluster: the policy names him, not `*`.
      await mint(otherCluster, 'bob');
      await assert.rejects(mint(otherCluster, 'admin'), accessDenied('redshift:GetClusterCredentials', arn(`dbuser:${otherCluster}/admin`)));
      // A group no rule names, on the cluster the rules use.
      await assert.rejects(mint(iamClusterId, 'alice', ['admins']), accessDenied('redshift:JoinGroup', arn(`dbgroup:${iamClusterId}/admins`)));
      // A database name no `databases` entry has.
      await assert.rejects(mint(iamClusterId, 'alice', [], 'template1'), accessDenied('redshift:GetClusterCredentials', arn(`dbname:${iamClusterId}/template1`)));
      // The Serverless credentials are the role's to get, not the proxy's; and no role but the rules' may be assumed.
      await assert.rejects(serverless.getCredentials(iamRegion, { workgroup, dbName: 'postgres', durationSeconds: 900 }), /AccessDeniedException/);
      await assert.rejects(sts.assumeRole(iamRegion, { roleArn: `arn:aws:iam::${iamAccountId}:role/Admin`, sessionName: 'x1', dbGroups: [] }), accessDenied('sts:AssumeRole', `arn:aws:iam::${iamAccountId}:role/Admin`));
      // Sanity: the proxy itself may still discover the cluster, and the policy in force is the generated one.
      assert.deepEqual(await redshift.describeClusterEndpoint(iamRegion, iamClusterId), { host: s.pg.host, port: s.pg.port });
      await assert.rejects(redshift.describeClusterEndpoint(iamRegion, 'no-rule-cluster'), accessDenied('redshift:DescribeClusters', arn('cluster:no-rule-cluster')));
      assert.match(proxyPolicy, /"Version": "2012-10-17"/);
    } finally {
      redshift.destroy();
      serverless.destroy();
      sts.destroy();
    }
  });
});
