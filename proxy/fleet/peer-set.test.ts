import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../auth/types.js';
import { captureLogger, type LogLine } from '../../testkit/capture-logger.js';
import { PeerSet, canonicalIp } from './peer-set.js';
import { replicaTag } from './replica-pid.js';

/** A resolver whose answers the test sets; throws for names it has no answer for. */
function fakeResolver(answers: Record<string, string[]>) {
  const calls: string[] = [];
  const resolveHost = async (host: string): Promise<string[]> => {
    calls.push(host);
    const a = answers[host];
    if (a === undefined) throw new Error(`ENOTFOUND ${host}`);
    return a;
  };
  return { resolveHost, calls, answers };
}

test('static peers: self is recognised, the others are peers by tag and by source address', async () => {
  const set = new PeerSet({ self: '10.0.0.1:5439', peers: ['10.0.0.1:5439', '10.0.0.2:5439', '10.0.0.3:5439'], peerDns: '', logger: silentLogger });
  await set.refresh();
  assert.equal(set.selfTag, replicaTag('10.0.0.1:5439'));
  assert.deepEqual(set.endpoints, ['10.0.0.1:5439', '10.0.0.2:5439', '10.0.0.3:5439']);
  assert.deepEqual(set.ownerOf(replicaTag('10.0.0.1:5439')), { kind: 'self' });
  assert.deepEqual(set.ownerOf(replicaTag('10.0.0.2:5439')), { kind: 'peer', host: '10.0.0.2', port: 5439, endpoint: '10.0.0.2:5439' });
  assert.deepEqual(set.ownerOf(replicaTag('10.0.0.9:5439')), { kind: 'unknown' });
  assert.equal(set.isPeerAddress('10.0.0.2'), true);
  assert.equal(set.isPeerAddress('::ffff:10.0.0.3'), true, 'IPv4-mapped source');
  assert.equal(set.isPeerAddress('10.0.0.1'), false, 'self is not a peer');
  assert.equal(set.isPeerAddress('10.0.0.9'), false);
});

test('peerDns: re-resolved every interval; a new address becomes a peer, a gone one stops being one', async () => {
  const dns = fakeResolver({ 'rsproxy-peers.ns.svc': ['10.0.0.1', '10.0.0.2'] });
  const lines: LogLine[] = [];
  const set = new PeerSet({ self: '10.0.0.1:5439', peers: [], peerDns: 'rsproxy-peers.ns.svc:5439', logger: captureLogger(lines), resolveHost: dns.resolveHost, refreshIntervalMs: 20 });
  await set.start();
  try {
    assert.equal(set.ownerOf(replicaTag('10.0.0.3:5439')).kind, 'unknown');
    dns.answers['rsproxy-peers.ns.svc'] = ['10.0.0.3', '10.0.0.1'];
    const deadline = Date.now() + 5000;
    while (set.ownerOf(replicaTag('10.0.0.3:5439')).kind !== 'peer' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(set.ownerOf(replicaTag('10.0.0.3:5439')).kind, 'peer');
    assert.equal(set.isPeerAddress('10.0.0.3'), true);
    assert.equal(set.isPeerAddress('10.0.0.2'), false, 'gone from DNS, gone from the set');
    assert.equal(set.ownerOf(replicaTag('10.0.0.2:5439')).kind, 'unknown');
    assert.ok(dns.calls.length >= 2);
    const changes = lines.filter((l) => l.obj['event'] === 'peer_set_changed').map((l) => l.obj['replicas']);
    assert.deepEqual(changes, [['10.0.0.1:5439', '10.0.0.2:5439'], ['10.0.0.1:5439', '10.0.0.3:5439']]);
  } finally {
    set.stop();
  }
});

test('a failed lookup keeps the last answer and warns; static names are resolved for the source check', async () => {
  const dns = fakeResolver({ 'peers.svc': ['10.0.0.2'], 'rsproxy-b': ['172.18.0.3'] });
  const lines: LogLine[] = [];
  const set = new PeerSet({ self: 'rsproxy-a:5439', peers: ['rsproxy-a:5439', 'rsproxy-b:5439'], peerDns: 'peers.svc:5439', logger: captureLogger(lines), resolveHost: dns.resolveHost });
  await set.refresh();
  assert.equal(set.isPeerAddress('172.18.0.3'), true);
  assert.deepEqual(set.ownerOf(replicaTag('rsproxy-b:5439')), { kind: 'peer', host: 'rsproxy-b', port: 5439, endpoint: 'rsproxy-b:5439' });
  delete dns.answers['peers.svc'];
  await set.refresh();
  assert.equal(set.isPeerAddress('10.0.0.2'), true, 'kept');
  assert.ok(lines.some((l) => l.level === 'warn' && l.obj['event'] === 'peer_resolve_failed' && l.obj['host'] === 'peers.svc'));
  assert.ok(lines.some((l) => l.level === 'warn' && l.obj['event'] === 'peer_resolve_failed' && l.obj['host'] === 'rsproxy-a'), 'self name unresolvable: warned, still self');
  assert.deepEqual(set.ownerOf(set.selfTag), { kind: 'self' });
});

test('a tag shared by two replicas is ambiguous (never forwarded) and warned about once', async () => {
  // Find two endpoints with the same 14-bit tag (birthday: a few hundred candidates suffice).
  const seen = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; pair === undefined; i++) {
    const e = `10.2.${i >> 8}.${i & 255}:5439`;
    const other = seen.get(replicaTag(e));
    if (other !== undefined) pair = [other, e];
    else seen.set(replicaTag(e), e);
  }
  const lines: LogLine[] = [];
  const set = new PeerSet({ self: '10.0.0.1:5439', peers: [...pair], peerDns: '', logger: captureLogger(lines) });
  await set.refresh();
  await set.refresh();
  const owner = set.ownerOf(replicaTag(pair[0]));
  assert.equal(owner.kind, 'ambiguous');
  assert.deepEqual(owner.kind === 'ambiguous' ? owner.endpoints.sort() : [], [...pair].sort());
  assert.equal(lines.filter((l) => l.obj['event'] === 'peer_tag_collision').length, 1);
  // A collision with self makes self's tag ambiguous too.
  const withSelf = new PeerSet({ self: pair[0], peers: [pair[1]], peerDns: '', logger: silentLogger });
  await withSelf.refresh();
  assert.equal(withSelf.ownerOf(withSelf.selfTag).kind, 'ambiguous');
});

test('canonicalIp unwraps IPv4-mapped addresses and compresses IPv6', () => {
  assert.equal(canonicalIp('::ffff:127.0.0.3'), '127.0.0.3');
  assert.equal(canonicalIp('FD00:0:0:0:0:0:0:7'), 'fd00::7');
  assert.equal(canonicalIp('10.0.0.1'), '10.0.0.1');
});

test('the system resolver answers from /etc/hosts (localhost), all addresses', async () => {
  const { systemResolveHost } = await import('./peer-set.js');
  const ips = await systemResolveHost('localhost');
  assert.ok(ips.some((ip) => ip === '127.0.0.1' || ip === '::1'), ips.join(','));
});

test('a second name of this replica (same port, one of its addresses) is self, never a peer', async () => {
  const dns = fakeResolver({ 'rsproxy-a': ['172.18.0.2'], 'peers.svc': ['172.18.0.2', '172.18.0.3'] });
  const set = new PeerSet({ self: 'rsproxy-a:5439', peers: [], peerDns: 'peers.svc:5439', logger: silentLogger, resolveHost: dns.resolveHost });
  await set.refresh();
  assert.deepEqual(set.ownerOf(replicaTag('172.18.0.2:5439')), { kind: 'self' }, 'never forwarded to itself');
  assert.equal(set.isPeerAddress('172.18.0.2'), false);
  assert.equal(set.isPeerAddress('172.18.0.3'), true);
  assert.equal(set.ownerOf(replicaTag('172.18.0.3:5439')).kind, 'peer');
});
