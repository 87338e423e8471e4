/** `cluster` (docs/design/surface.md §9) for `rsproxy serve`: the peer set, re-resolved on an interval, and the cancel router over it. */
import type { Logger } from '../../auth/types.js';
import type { RsproxyConfig } from '../config/config.js';
import { PeerCancelRouter, createSendPeerCancel } from './peer-cancel.js';
import { PeerSet, splitHostPort } from './peer-set.js';
import type { ResolveHostFn } from './peer-set.js';

/** What tests may inject into the cluster wiring. */
export interface ClusterOptions {
  /** Default: the system resolver (dns.promises.lookup, all addresses). */
  resolveHost?: ResolveHostFn;
  /** Default 30,000 ms. */
  refreshIntervalMs?: number;
}

/** A running cluster wiring; stop() ends the re-resolving. */
export interface Cluster {
  peerSet: PeerSet;
  router: PeerCancelRouter;
  stop(): void;
}

const isSpecificIp = (host: string): boolean => (/^\d+\.\d+\.\d+\.\d+$/.test(host) && host !== '0.0.0.0') || (host.includes(':') && host !== '::');

/** Starts the peer set when `cluster.peers` or `cluster.peerDns` is set (first resolution awaited); undefined otherwise. */
export async function startCluster(config: Pick<RsproxyConfig, 'listen' | 'cluster' | 'proxyProtocol'>, logger: Logger, opts: ClusterOptions = {}): Promise<Cluster | undefined> {
  const { self, peers, peerDns } = config.cluster;
  if (peers.length === 0 && peerDns === '') return undefined;
  const log = logger.child({ component: 'cluster' });
  const peerSet = new PeerSet({
    self,
    peers,
    peerDns,
    logger: log,
    ...(opts.resolveHost === undefined ? {} : { resolveHost: opts.resolveHost }),
    ...(opts.refreshIntervalMs === undefined ? {} : { refreshIntervalMs: opts.refreshIntervalMs }),
  });
  await peerSet.start();
  // Leave from the listen IP when it is a specific one: peers recognise replicas by source address.
  const listenHost = splitHostPort(config.listen).host;
  const router = new PeerCancelRouter({
    peers: peerSet,
    sendPeerCancel: createSendPeerCancel({
      shouldSendProxyHeader: config.proxyProtocol.trustedSources.length > 0,
      ...(isSpecificIp(listenHost) ? { localAddress: listenHost } : {}),
    }),
  });
  log.info({ event: 'cluster_started', self: peerSet.selfEndpoint, selfTag: peerSet.selfTag, replicas: peerSet.endpoints }, 'cancel forwarding between replicas on');
  return { peerSet, router, stop: () => peerSet.stop() };
}
