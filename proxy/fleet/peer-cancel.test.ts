import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { silentLogger } from '../../auth/types.js';
import type { UpstreamTarget } from '../../auth/types.js';
import { captureLogger, type LogLine } from '../../testkit/capture-logger.js';
import { proxyV2LocalHeader } from '../protocol/proxy-header.js';
import { sslRequest } from '../protocol/upstream.js';
import { SourceRateLimiter } from '../server/source-rate-limiter.js';
import { CancelRegistry } from '../session/cancel-registry.js';
import type { CancelResult } from '../telemetry/observer.js';
import { nullSessionObserver } from '../telemetry/observer.js';
import { PeerCancelRouter, createSendPeerCancel } from './peer-cancel.js';
import { PeerSet } from './peer-set.js';
import { decodeReplicaPid, encodeReplicaPid, markForwarded, replicaTag } from './replica-pid.js';

const self = '10.0.0.1:5439';
const peerB = '10.0.0.2:5439';
const outsider = '10.0.0.9:5439';
const target: UpstreamTarget = { database: 'dev', host: '10.9.0.1', port: 5439, dbName: 'dev', engine: 'redshift', tlsMode: 'verify-full' };
const key = Buffer.from('0a0b0c0d', 'hex');

async function setup(opts: { failPeer?: boolean; ratePerSecond?: number } = {}) {
  const peers = new PeerSet({ self, peers: [self, peerB], peerDns: '', logger: silentLogger });
  await peers.refresh();
  const toPeers: Array<{ host: string; port: number; pid: number; key: string }> = [];
  const upstream: number[] = [];
  const results: CancelResult[] = [];
  const lines: LogLine[] = [];
  const router = new PeerCancelRouter({
    peers,
    sendPeerCancel: async (peer, pid, k) => {
      if (opts.failPeer === true) throw new Error('connect ECONNREFUSED 10.0.0.2:5439');
      toPeers.push({ host: peer.host, port: peer.port, pid, key: k.toString('hex') });
    },
  });
  const registry = new CancelRegistry({
    sendUpstreamCancel: async (_t, pid) => void upstream.push(pid),
    logger: captureLogger(lines),
    observer: { ...nullSessionObserver, cancel: (r) => results.push(r) },
    limiter: new SourceRateLimiter({ ratePerSecond: opts.ratePerSecond ?? 10, burst: opts.ratePerSecond ?? 10, maxTrackedSources: 10_000 }),
    peers: router,
  });
  return { registry, toPeers, upstream, results, lines };
}

const pidOf = (endpoint: string, n = 77): number => encodeReplicaPid(replicaTag(endpoint), n);

test('issued pids carry this replica\'s tag, unique session numbers and a clear hop flag', async () => {
  const { registry } = await setup();
  const numbers = new Set<number>();
  for (let i = 0; i < 300; i++) {
    const d = decodeReplicaPid(registry.issue(target, i, key).pid);
    assert.equal(d?.tag, replicaTag(self));
    assert.equal(d?.isForwarded, false);
    numbers.add(d?.sessionNumber ?? 0);
  }
  assert.equal(numbers.size, 300);
});

test('a key naming a current peer is forwarded once, with the hop flag set and the same secret', async () => {
  const { registry, toPeers, upstream, results, lines } = await setup();
  assert.equal(await registry.handle(pidOf(peerB), key, 16, '192.0.2.10'), 'peer_forwarded');
  assert.deepEqual(toPeers, [{ host: '10.0.0.2', port: 5439, pid: markForwarded(pidOf(peerB)), key: '0a0b0c0d' }]);
  assert.deepEqual(upstream, []);
  assert.deepEqual(results, ['peer_forwarded']);
  const logged = JSON.stringify(lines);
  assert.ok(lines.some((l) => l.obj['event'] === 'cancel_peer_forwarded' && l.obj['peer'] === peerB));
  assert.ok(!logged.includes('0a0b0c0d') && !logged.includes(String(pidOf(peerB))), 'no key bytes in logs');
});

test('a peer that cannot be reached counts peer_forward_failed', async () => {
  const { registry, results, lines } = await setup({ failPeer: true });
  assert.equal(await registry.handle(pidOf(peerB), key, 16, '192.0.2.10'), 'peer_forward_failed');
  assert.deepEqual(results, ['peer_forward_failed']);
  assert.ok(lines.some((l) => l.level === 'warn' && l.obj['event'] === 'cancel_peer_forward_failed'));
});

test('never forwarded: outside the peer set, naming self, a second hop, a hop flag from outside the fleet, a non-replica pid', async () => {
  const { registry, toPeers, upstream, results, lines } = await setup();
  assert.equal(await registry.handle(pidOf(outsider), key, 16, '192.0.2.10'), 'unknown_key');
  assert.equal(await registry.handle(pidOf(self, 999), key, 16, '192.0.2.10'), 'unknown_key');
  // From peer B (its source address): handled locally only, even for a key naming B itself or a third replica.
  assert.equal(await registry.handle(pidOf(peerB), key, 16, '10.0.0.2'), 'unknown_key');
  assert.equal(await registry.handle(markForwarded(pidOf(peerB)), key, 16, '10.0.0.2'), 'unknown_key');
  // A pid with the hop flag set from a client: not a forwarded cancel from the fleet, not forwarded again.
  assert.equal(await registry.handle(markForwarded(pidOf(peerB)), key, 16, '192.0.2.10'), 'unknown_key');
  assert.equal(await registry.handle(5 * 2 ** 16, key, 16, '192.0.2.10'), 'unknown_key');
  assert.equal(await registry.handle(-5, key, 16, '192.0.2.10'), 'unknown_key');
  assert.deepEqual(toPeers, []);
  assert.deepEqual(upstream, []);
  assert.equal(results.length, 7);
  const reasons = lines.filter((l) => l.obj['event'] === 'cancel_not_forwarded').map((l) => l.obj['reason']);
  assert.deepEqual(reasons, ['not_in_peer_set', 'names_self', 'from_peer', 'from_peer', 'forwarded_from_outside_fleet', 'not_a_replica_key', 'not_a_replica_key']);
});

test('the owner accepts a forwarded cancel (hop flag) from a peer and cancels upstream; from anyone else it does not', async () => {
  const { registry, upstream, results } = await setup();
  const issued = registry.issue(target, 4242, key);
  assert.equal(await registry.handle(markForwarded(issued.pid), issued.key, 16, '203.0.113.5'), 'unknown_key');
  assert.deepEqual(upstream, []);
  assert.equal(await registry.handle(markForwarded(issued.pid), Buffer.from('ffffffff', 'hex'), 16, '10.0.0.2'), 'unknown_key', 'forged secret');
  assert.equal(await registry.handle(markForwarded(issued.pid), issued.key, 16, '10.0.0.2'), 'forwarded');
  assert.equal(await registry.handle(issued.pid, issued.key, 16, '203.0.113.5'), 'forwarded', 'a client holding the key cancels directly');
  assert.deepEqual(upstream, [4242, 4242]);
  assert.deepEqual(results, ['unknown_key', 'unknown_key', 'forwarded', 'forwarded']);
});

test('the per-source cancel rate limit applies before forwarding; a peer is not limited again', async () => {
  const { registry, toPeers } = await setup({ ratePerSecond: 2 });
  const got: CancelResult[] = [];
  for (let i = 0; i < 4; i++) got.push(await registry.handle(pidOf(peerB), key, 16, '192.0.2.10'));
  assert.deepEqual(got, ['peer_forwarded', 'peer_forwarded', 'rate_limited', 'rate_limited']);
  assert.equal(toPeers.length, 2);
  const fromPeer: CancelResult[] = [];
  for (let i = 0; i < 4; i++) fromPeer.push(await registry.handle(markForwarded(pidOf(self, 5)), key, 16, '10.0.0.2'));
  assert.deepEqual(fromPeer, ['unknown_key', 'unknown_key', 'unknown_key', 'unknown_key']);
});

/** A TCP server on 127.0.0.1 that records the first bytes of one connection and answers `answer` to them. */
async function recordingServer(answer: Buffer): Promise<{ port: number; received: Promise<{ bytes: Buffer; remoteAddress: string }>; close(): Promise<void> }> {
  let resolve: (v: { bytes: Buffer; remoteAddress: string }) => void = () => {};
  const received = new Promise<{ bytes: Buffer; remoteAddress: string }>((r) => (resolve = r));
  const server = net.createServer((s) => {
    let bytes = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('data', (c: Buffer) => {
      bytes = Buffer.concat([bytes, c]);
      if (bytes.length >= sslRequest.length && bytes.subarray(-sslRequest.length).equals(sslRequest)) {
        resolve({ bytes, remoteAddress: s.remoteAddress ?? '' });
        s.end(answer);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, received, close: () => new Promise((r) => server.close(() => r())) };
}

test('on the wire: PROXY v2 LOCAL header then SSLRequest when trustedSources is set, SSLRequest alone otherwise; never plaintext', async () => {
  for (const shouldSendProxyHeader of [true, false]) {
    const srv = await recordingServer(Buffer.from('N'));
    try {
      const send = createSendPeerCancel({ shouldSendProxyHeader, localAddress: '127.0.0.5' });
      // The peer refuses TLS: the cancel must not go out in plaintext.
      await assert.rejects(send({ host: '127.0.0.1', port: srv.port }, markForwarded(pidOf(self)), key, 2000, silentLogger), /TLS/);
      const { bytes, remoteAddress } = await srv.received;
      const expected = shouldSendProxyHeader ? Buffer.concat([proxyV2LocalHeader, sslRequest]) : sslRequest;
      assert.equal(bytes.toString('hex'), expected.toString('hex'));
      assert.equal(remoteAddress, '127.0.0.5', 'leaves from the given local address');
    } finally {
      await srv.close();
    }
  }
});

test('a local address of the other IP family is not used (the kernel picks the source)', async () => {
  const srv = await recordingServer(Buffer.from('N'));
  try {
    const send = createSendPeerCancel({ shouldSendProxyHeader: false, localAddress: '::1' });
    await assert.rejects(send({ host: '127.0.0.1', port: srv.port }, markForwarded(pidOf(self)), key, 2000, silentLogger), /TLS/);
    assert.equal((await srv.received).remoteAddress, '127.0.0.1');
  } finally {
    await srv.close();
  }
});
