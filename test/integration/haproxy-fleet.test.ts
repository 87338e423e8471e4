/**
 * The real HAProxy in front of two rsproxy replicas with `send-proxy-v2` (issue 13): psql and pgbench log
 * in through it, the replicas log the client's address rather than HAProxy's, HAProxy's health checks
 * (LOCAL header, then a reset) are never refused, and a cancel through it works: pinned (`balance source`) without peers, and
 * landing on the other replica with peers (`cluster`), which forwards it. HAProxy connects from 127.0.0.7.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import * as tls from 'node:tls';
import { startFleet } from '../../testkit/fleet.js';
import type { Fleet, Replica } from '../../testkit/fleet.js';
import { haproxyAvailable, startHaproxy } from '../../testkit/haproxy.js';
import type { Haproxy } from '../../testkit/haproxy.js';
import { startIamStack } from '../../testkit/iam-stack.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { plainSocket, untilClosed } from '../../testkit/raw-pg-client.js';
import { cancelPacket, i32 } from '../../testkit/raw-wire.js';
import { startStack } from '../../testkit/stack.js';
import type { StackHandle } from '../../testkit/stack.js';
import { commandWorks, requireTool } from '../../testkit/tools.js';
import { sleep, waitFor } from '../../testkit/wait.js';

const balancerAddress = '127.0.0.7';
type Rec = Record<string, unknown>;
const parse = (logs: readonly string[]): Rec[] => logs.map((l) => JSON.parse(l) as Rec);

function run(bin: string, args: string[], password: string, timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' }, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: `${stdout}${stderr}` });
    });
  });
}

describe('HAProxy (send-proxy-v2) in front of two replicas', () => {
  let stack: StackHandle;
  let haproxy: Haproxy;
  const replicaLogs = (): Rec[][] => [parse(stack.logs), parse(stack.replicas[0]!.logs)];

  before(async () => {
    if (!pgAvailable() || !haproxyAvailable()) return;
    stack = await startStack({
      logLevel: 'info',
      extraReplicas: 1,
      configure: (c) => {
        c.proxyProtocol = { trustedSources: [`${balancerAddress}/32`] };
      },
    });
    haproxy = await startHaproxy({
      backendPorts: [stack.proxyPort, stack.replicas[0]!.port],
      sourceAddress: balancerAddress,
      frontends: [
        { name: 'spread', balance: 'roundrobin' },
        // Without peers (this stack has no `cluster`), a cancel must reach its session's replica: `balance source` pins 127.0.0.1 to one. The peers case is below.
        { name: 'pinned', balance: 'source' },
        { name: 'v1', balance: 'roundrobin', proxyProtocol: 'send-proxy' },
      ],
      checkIntervalMs: 300,
    });
  });
  after(async () => {
    await haproxy?.stop();
    await stack?.close();
  });

  const conninfo = (port: number): string => `host=127.0.0.1 port=${port} user=${stack.dbUser} dbname=${stack.database} sslmode=verify-full sslrootcert=${stack.caFile}`;

  test('psql and pgbench log in through HAProxy on both replicas; each logs the client, not HAProxy', async (t) => {
    if (!requirePg(t) || !requireTool(t, 'haproxy', haproxyAvailable()) || !requireTool(t, 'psql', commandWorks('psql')) || !requireTool(t, 'pgbench', commandWorks('pgbench'))) return;
    const port = haproxy.ports['spread']!;
    for (let i = 0; i < 2; i++) {
      const r = await run('psql', [conninfo(port), '-XAtc', 'SELECT 41 + 1'], await stack.mintToken(), 30_000);
      assert.equal(r.code, 0, r.out);
      assert.equal(r.out.trim(), '42');
    }
    const script = join(stack.dir, 'select.sql');
    writeFileSync(script, 'SELECT 1;\n');
    const bench = await run('pgbench', ['-n', '-f', script, '-c', '4', '-j', '2', '-T', '2', conninfo(port)], await stack.mintToken(), 60_000);
    assert.equal(bench.code, 0, bench.out);
    assert.match(bench.out, /number of failed transactions: 0/);
    assert.match(bench.out, /number of clients: 4/);
    // 2 psql + 4 pgbench client logins, round-robin: both replicas served some, and every login names 127.0.0.1 via 127.0.0.7.
    const logins = replicaLogs().map((recs) => recs.filter((r) => r.event === 'login_ok'));
    assert.ok(logins.every((l) => l.length >= 1), `logins per replica: ${logins.map((l) => l.length).join(', ')}`);
    // pgbench also opens one setup connection of its own before its clients.
    assert.ok(logins.flat().length >= 6, `${logins.flat().length} logins`);
    for (const line of logins.flat()) {
      assert.equal(line.clientAddress, '127.0.0.1');
      assert.equal(line.proxiedBy, balancerAddress);
    }
    // HAProxy's health checks (a v2 LOCAL header, then a reset, usually before the replica even reads the peer address) are never counted as refusals.
    assert.deepEqual(replicaLogs().flat().filter((r) => r.event === 'proxy_header_rejected'), []);
    assert.doesNotMatch(haproxy.output(), /is DOWN/);
  });

  test('HAProxy send-proxy (v1 text header): psql logs in and the replica names the client', async (t) => {
    if (!requirePg(t) || !requireTool(t, 'haproxy', haproxyAvailable()) || !requireTool(t, 'psql', commandWorks('psql'))) return;
    const before = replicaLogs().flat().filter((r) => r.event === 'login_ok').length;
    const r = await run('psql', [conninfo(haproxy.ports['v1']!), '-XAtc', 'SELECT 7'], await stack.mintToken(), 30_000);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.trim(), '7');
    const logins = replicaLogs().flat().filter((l) => l.event === 'login_ok');
    assert.equal(logins.length, before + 1);
    for (const line of logins) assert.deepEqual([line.clientAddress, line.proxiedBy], ['127.0.0.1', balancerAddress]);
  });

  test('a cancel through HAProxy (balance source: the same replica) cancels pg_sleep with 57014 within 2 s', async (t) => {
    if (!requirePg(t) || !requireTool(t, 'haproxy', haproxyAvailable())) return;
    const port = haproxy.ports['pinned']!;
    const client = new pg.Client({ host: '127.0.0.1', port, user: stack.dbUser, database: stack.database, password: await stack.mintToken(), ssl: { ca: stack.caPem } });
    client.on('error', () => {});
    await client.connect();
    try {
      const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
      const outcome = client.query('SELECT pg_sleep(30)').then(() => 'finished', (err: { code?: string }) => err.code);
      await waitFor(async () => (await stack.pg.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'")).rowCount === 1, 10_000);
      const startedMs = Date.now();
      const cancel = net.connect(port, '127.0.0.1', () => cancel.write(cancelPacket(processID, i32(secretKey))));
      cancel.on('error', () => {});
      assert.equal(await outcome, '57014');
      assert.ok(Date.now() - startedMs < 2000, `cancelled in ${Date.now() - startedMs} ms`);
      await sleep(100);
      const forwarded = replicaLogs().flat().filter((r) => r.event === 'cancel_forwarded');
      assert.equal(forwarded.length, 1);
      assert.equal(forwarded[0]?.source, '127.0.0.1', 'the cancel is rate-limited on the client, not on HAProxy');
    } finally {
      await client.end().catch(() => {});
    }
  });
});

describe('HAProxy (send-proxy-v2, roundrobin) in front of two replicas that are peers', () => {
  let stack: IamStack;
  let fleet: Fleet;
  let haproxy: Haproxy;
  const cancels = 'rsproxy_cancel_requests_total';

  before(async () => {
    if (!pgAvailable() || !haproxyAvailable()) return;
    stack = await startIamStack({ logLevel: 'info' });
    fleet = await startFleet({
      stack,
      hosts: ['127.0.0.2', '127.0.0.3'],
      cluster: (self, all) => ({ self, peers: [...all] }),
      // HAProxy's source and the replicas themselves (whose forwarded cancels open with a LOCAL header).
      configure: (c) => {
        c.proxyProtocol = { trustedSources: [`${balancerAddress}/32`, '127.0.0.2/31'] };
      },
    });
    const [a, b] = fleet.replicas as [Replica, Replica];
    haproxy = await startHaproxy({
      backendPorts: [a.port, b.port],
      backendHosts: [a.host, b.host],
      sourceAddress: balancerAddress,
      frontends: [{ name: 'spread', balance: 'roundrobin' }],
      checkIntervalMs: 300,
    });
  });
  after(async () => {
    await haproxy?.stop();
    await fleet?.close();
    await stack?.close();
  });

  test('a cancel that HAProxy sends to the other replica is forwarded to the owner: 57014 within 2 s', async (t) => {
    if (!requirePg(t) || !requireTool(t, 'haproxy', haproxyAvailable())) return;
    const port = haproxy.ports['spread']!;
    const replicas = fleet.replicas;
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'alice',
      database: 'dev',
      password: await stack.mint('alice'),
      // One certificate carries both replicas' IPs; HAProxy listens on 127.0.0.1.
      ssl: { ca: stack.caPem, checkServerIdentity: (_host, cert) => tls.checkServerIdentity(replicas[0]!.host, cert) },
    });
    client.on('error', () => {});
    await client.connect();
    try {
      const owner = replicas.find((r) => r.events('login_ok').length === 1);
      assert.ok(owner !== undefined, 'one replica holds the session');
      const other = replicas.find((r) => r !== owner)!;
      const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
      const outcome = client.query('SELECT pg_sleep(30)').then(() => 'finished', (err: { code?: string }) => err.code);
      await waitFor(async () => (await stack.pg.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'")).rowCount === 1, 10_000);
      const startedMs = Date.now();
      // roundrobin: the next connection after the session's goes to the other replica.
      const cancel = await plainSocket(port);
      cancel.write(cancelPacket(processID, i32(secretKey)));
      await untilClosed(cancel, 10_000);
      assert.equal(await outcome, '57014');
      assert.ok(Date.now() - startedMs < 2000, `cancelled in ${Date.now() - startedMs} ms`);
      assert.equal(await other.metric(cancels, { result: 'peer_forwarded' }), 1, 'the cancel landed on the other replica, which forwarded it');
      assert.equal(await owner.metric(cancels, { result: 'forwarded' }), 1);
      for (const r of replicas) assert.equal(await r.metric(cancels, { result: 'unknown_key' }), 0);
      assert.deepEqual(other.events('cancel_peer_forwarded').map((e) => e['peer']), [owner.endpoint]);
      // The owner took it from the other replica's own address (a LOCAL header), and refused nothing.
      assert.deepEqual(owner.events('cancel_forwarded').map((e) => e['source']), [other.host]);
      for (const r of replicas) assert.deepEqual(r.events('proxy_header_rejected'), []);
      assert.doesNotMatch(haproxy.output(), /is DOWN/);
    } finally {
      await client.end().catch(() => {});
    }
  });
});
