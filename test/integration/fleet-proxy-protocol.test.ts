/**
 * Cancel forwarding and the PROXY protocol together (issue 13, docs/design/surface.md §9): three replicas on
 * 127.0.0.2–4 with `cluster` peers AND `proxyProtocol.trustedSources` covering the replicas and the test
 * client (127.0.0.1), which acts as the balancer and opens every connection with a v2 PROXY header.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import pg from 'pg';
import { markForwarded } from '../../proxy/fleet/replica-pid.js';
import { sendCancel, startFleet, waitSleeping } from '../../testkit/fleet.js';
import type { Fleet, Replica } from '../../testkit/fleet.js';
import { httpGet } from '../../testkit/http-get.js';
import { startIamStack } from '../../testkit/iam-stack.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { proxyV2, startHeaderForwarder } from '../../testkit/proxy-header.js';
import type { HeaderForwarder } from '../../testkit/proxy-header.js';
import { sleep, waitFor } from '../../testkit/wait.js';

const cancels = 'rsproxy_cancel_requests_total';
const rejected = 'rsproxy_proxy_protocol_rejected_total';
const fakeClient = '198.51.100.23';
const v2From = (address: string, port: number) => proxyV2({ source: { address, port }, destination: { address: '10.0.0.5', port: 5439 } });

/** The sum of every sample of `name` on a replica's /metrics (0 when it has none yet). */
async function total(r: Replica, name: string): Promise<number> {
  const { body } = await httpGet(`http://127.0.0.1:${r.proxy.adminAddress.port}/metrics`);
  return body
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('cancel forwarding with the PROXY protocol on (three replicas, trusted balancer 127.0.0.1)', () => {
  let stack: IamStack;
  let fleet: Fleet;
  let a: Replica;
  let b: Replica;
  let c: Replica;
  let fwd: HeaderForwarder;

  before(async () => {
    if (!pgAvailable()) return;
    stack = await startIamStack({ logLevel: 'info' });
    fleet = await startFleet({
      stack,
      hosts: ['127.0.0.2', '127.0.0.3', '127.0.0.4'],
      cluster: (self, all) => ({ self, peers: [...all] }),
      configure: (c) => {
        c.proxyProtocol = { trustedSources: ['127.0.0.2/31', '127.0.0.4/32', '127.0.0.1/32'] };
      },
    });
    [a, b, c] = fleet.replicas as [Replica, Replica, Replica];
    // The "balancer" in front of A: every connection opens with a v2 header naming the fake client.
    fwd = await startHeaderForwarder({ targetHost: a.host, targetPort: a.port, header: (n) => v2From(fakeClient, 40000 + n) });
  });
  after(async () => {
    await fwd?.close();
    await fleet?.close();
    await stack?.close();
  });

  /** A session on A opened through the PROXY header, running pg_sleep(30). */
  async function sleepingOnA(): Promise<{ client: pg.Client; pid: number; secret: number; backendPid: number; sleep(): Promise<{ running: Promise<unknown> }> }> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: fwd.port,
      user: 'alice',
      database: 'dev',
      password: await stack.mint('alice'),
      // The forwarder listens on 127.0.0.1; the certificate names A's IP.
      ssl: { ca: stack.caPem, checkServerIdentity: (_host, cert) => tls.checkServerIdentity(a.host, cert) },
    });
    client.on('error', () => {});
    await client.connect();
    const backendPid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
    // Wrapped, so awaiting the start does not await the query.
    const start = async (): Promise<{ running: Promise<unknown> }> => {
      const running = client.query('SELECT pg_sleep(30)');
      running.catch(() => {});
      await waitSleeping(stack, backendPid);
      return { running };
    };
    return { client, pid: processID, secret: secretKey, backendPid, sleep: start };
  }

  test('a CancelRequest to B through a PROXY header (plaintext and TLS) is forwarded with a LOCAL header; A takes it from a peer → 57014 within 2 s', async (t) => {
    if (!requirePg(t)) return;
    const rejectedOnA = await total(a, rejected);
    const s = await sleepingOnA();
    try {
      const login = a.events('login_ok').at(-1);
      assert.deepEqual([login?.['clientAddress'], login?.['proxiedBy']], [fakeClient, '127.0.0.1'], 'A logged the header address');
      for (const overTls of [false, true]) {
        const { running } = await s.sleep();
        const startedMs = Date.now();
        await sendCancel(stack, b, s.pid, s.secret, overTls, v2From(fakeClient, 41000));
        await assert.rejects(running, (e: pg.DatabaseError) => e.code === '57014');
        assert.ok(Date.now() - startedMs < 2000, `cancelled after ${Date.now() - startedMs} ms (${overTls ? 'TLS' : 'plaintext'})`);
      }
      assert.equal((await s.client.query('SELECT 1 AS v')).rows[0].v, 1, 'the session survives');
    } finally {
      await s.client.end().catch(() => {});
    }
    assert.equal(await b.metric(cancels, { result: 'peer_forwarded' }), 2);
    assert.equal(await b.metric(cancels, { result: 'rate_limited' }), 0);
    assert.equal(await a.metric(cancels, { result: 'forwarded' }), 2);
    assert.equal(await a.metric(cancels, { result: 'unknown_key' }), 0);
    assert.equal(await total(b, cancels), 2, 'B counted the two cancels once each, as peer_forwarded only');
    assert.equal(await total(c, cancels), 0, 'C saw nothing');
    // B's forwarded connections opened with a LOCAL header, so A's gate let them in and A saw B's own address (a peer).
    assert.equal(await total(a, rejected), rejectedOnA, 'A refused no connection');
    assert.deepEqual(a.events('cancel_forwarded').map((e) => e['source']), ['127.0.0.3', '127.0.0.3']);
    assert.deepEqual(a.events('proxy_header_rejected'), []);
    assert.deepEqual(b.events('proxy_header_rejected'), []);
  });

  test('a proxied connection whose header names a replica address is not taken as that replica: a hop-flagged key from it cancels nothing', async (t) => {
    if (!requirePg(t)) return;
    const before = { unknown: await a.metric(cancels, { result: 'unknown_key' }), forwarded: await a.metric(cancels, { result: 'forwarded' }) };
    const s = await sleepingOnA();
    try {
      const { running } = await s.sleep();
      // A client behind the balancer with B's address, sending A's real key with the hop flag a forwarded cancel carries.
      await sendCancel(stack, a, markForwarded(s.pid), s.secret, false, v2From(b.host, 42000));
      await waitFor(async () => (await a.metric(cancels, { result: 'unknown_key' })) === before.unknown + 1, 5000);
      await sleep(300);
      const active = await stack.pg.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [s.backendPid]);
      assert.equal(active.rowCount, 1, 'the query still runs');
      assert.equal(await a.metric(cancels, { result: 'forwarded' }), before.forwarded);
      assert.deepEqual(a.events('cancel_not_forwarded').map((e) => e['reason']), ['forwarded_from_outside_fleet']);
      // The real key, unflagged, from the same proxied address still works.
      const startedMs = Date.now();
      await sendCancel(stack, a, s.pid, s.secret, false, v2From(b.host, 42001));
      await assert.rejects(running, (e: pg.DatabaseError) => e.code === '57014');
      assert.ok(Date.now() - startedMs < 2000);
    } finally {
      await s.client.end().catch(() => {});
    }
  });
});
