import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../auth/types.js';
import { startCluster } from './cluster.js';
import type { RsproxyConfig } from '../config/config.js';
import { replicaTag } from './replica-pid.js';

const config = (cluster: RsproxyConfig['cluster']): Pick<RsproxyConfig, 'listen' | 'cluster' | 'proxyProtocol'> => ({ listen: '10.0.0.1:5439', cluster, proxyProtocol: { trustedSources: [] } });

test('no peers and no peerDns: no cluster (keys stay random pids)', async () => {
  assert.equal(await startCluster(config({ self: '10.0.0.1:5439', peers: [], peerDns: '' }), silentLogger), undefined);
});

test('with peerDns: the first resolution is done before serve listens, through the injected resolver', async () => {
  const asked: string[] = [];
  const cluster = await startCluster(config({ self: '10.0.0.1:5439', peers: [], peerDns: 'peers.svc:5439' }), silentLogger, {
    resolveHost: async (h) => (asked.push(h), ['10.0.0.1', '10.0.0.2']),
    refreshIntervalMs: 60_000,
  });
  try {
    assert.ok(cluster !== undefined);
    assert.deepEqual(asked, ['peers.svc']);
    assert.equal(cluster.router.selfTag, replicaTag('10.0.0.1:5439'));
    assert.deepEqual(cluster.peerSet.endpoints, ['10.0.0.1:5439', '10.0.0.2:5439']);
    assert.equal(cluster.router.isFromPeer('10.0.0.2'), true);
  } finally {
    cluster?.stop();
  }
});
