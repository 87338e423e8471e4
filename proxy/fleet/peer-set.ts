/**
 * The replicas of a fleet (docs/design/surface.md §9): `cluster.self`, the static `cluster.peers` and the
 * addresses `cluster.peerDns` resolves to, re-resolved on an interval. Answers which replica a
 * cancel key's tag names and whether a connection comes from a peer.
 */
import { lookup } from 'node:dns/promises';
import type { Logger } from '../../auth/types.js';
import { canonicalEndpoint, replicaTag } from './replica-pid.js';

/** Resolves a host name to its IP addresses (all of them). */
export type ResolveHostFn = (host: string) => Promise<string[]>;

/** The system resolver (/etc/hosts, then DNS), as getaddrinfo sees it. */
export const systemResolveHost: ResolveHostFn = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** Default re-resolve interval of `cluster.peerDns` and of static peer names. */
export const defaultPeerRefreshIntervalMs = 30_000;

/** Options of a PeerSet. */
export interface PeerSetOptions {
  /** `cluster.self` (host:port). */
  self: string;
  /** `cluster.peers` (host:port each); self may be among them. */
  peers: readonly string[];
  /** `cluster.peerDns` (name:port) or ''. */
  peerDns: string;
  logger: Logger;
  resolveHost?: ResolveHostFn;
  refreshIntervalMs?: number;
}

/** A replica that a tag names: this replica, exactly one peer, several (a tag collision), or none. */
export type TagOwner = { kind: 'self' } | { kind: 'peer'; host: string; port: number; endpoint: string } | { kind: 'ambiguous'; endpoints: string[] } | { kind: 'unknown' };

interface Member {
  endpoint: string;
  host: string;
  port: number;
  /** Canonical IPs a connection from this replica comes from. */
  addresses: string[];
}

/** `host:port` (IPv6 in brackets) split. */
export function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(hostPort.slice(i + 1)) };
}

/** A source address as compared with peer addresses: IPv4-mapped IPv6 unwrapped, IPv6 compressed. */
export function canonicalIp(address: string): string {
  const a = address.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  return a.includes(':') ? canonicalEndpoint(a, 0).slice(1, -3) : a;
}

const isIpLiteral = (host: string): boolean => /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':');

/** The current peer set of one replica; refresh() re-resolves, start() also re-resolves on an interval. */
export class PeerSet {
  /** This replica's canonical endpoint and the tag its cancel keys carry. */
  readonly selfEndpoint: string;
  readonly selfTag: number;
  private readonly opts: PeerSetOptions;
  private readonly resolveHost: ResolveHostFn;
  private members: Member[] = [];
  private byTag = new Map<number, string[]>();
  /** Endpoints that are this replica: self, and any other name of it (same port, one of its addresses). */
  private selfEndpoints = new Set<string>();
  private peerAddresses = new Set<string>();
  /** Last good answer per name, kept when a later lookup fails. */
  private readonly lastResolved = new Map<string, string[]>();
  private lastCollisions = '';
  private lastEndpoints = '';
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(opts: PeerSetOptions) {
    this.opts = opts;
    this.resolveHost = opts.resolveHost ?? systemResolveHost;
    const self = splitHostPort(opts.self);
    this.selfEndpoint = canonicalEndpoint(self.host, self.port);
    this.selfTag = replicaTag(this.selfEndpoint);
  }

  /** Resolves once, then every refreshIntervalMs until stop(). */
  async start(): Promise<void> {
    await this.refresh();
    this.timer ??= setInterval(() => void this.refresh(), this.opts.refreshIntervalMs ?? defaultPeerRefreshIntervalMs);
    this.timer.unref();
  }

  /** Stops re-resolving. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every replica's canonical endpoint, self included, sorted. */
  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** True when `address` (a connection's source IP) is one of the other replicas' addresses. */
  isPeerAddress(address: string): boolean {
    return this.peerAddresses.has(canonicalIp(address));
  }

  /** Which replica a cancel key's tag names, in the current peer set. */
  ownerOf(tag: number): TagOwner {
    const endpoints = this.byTag.get(tag) ?? [];
    if (endpoints.length > 1) return { kind: 'ambiguous', endpoints };
    const endpoint = endpoints[0];
    if (endpoint === undefined) return { kind: 'unknown' };
    if (this.selfEndpoints.has(endpoint)) return { kind: 'self' };
    const m = this.members.find((x) => x.endpoint === endpoint);
    return m === undefined ? { kind: 'unknown' } : { kind: 'peer', host: m.host, port: m.port, endpoint };
  }

  /** Re-resolves peers and peerDns now (one at a time; a failed lookup keeps that name's last answer). */
  refresh(): Promise<void> {
    this.inFlight ??= this.resolveAll().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async resolve(host: string): Promise<string[]> {
    if (isIpLiteral(host)) return [canonicalIp(host)];
    try {
      const ips = [...new Set((await this.resolveHost(host)).map(canonicalIp))].sort();
      this.lastResolved.set(host, ips);
      return ips;
    } catch (err) {
      const kept = this.lastResolved.get(host) ?? [];
      this.opts.logger.warn({ event: 'peer_resolve_failed', host, err: err instanceof Error ? err.message : String(err), kept: kept.length }, 'cannot resolve a peer name; keeping its last addresses');
      return kept;
    }
  }

  private async resolveAll(): Promise<void> {
    const found = new Map<string, Member>();
    const add = (host: string, port: number, addresses: string[]): void => {
      const endpoint = canonicalEndpoint(host, port);
      const m = found.get(endpoint);
      if (m === undefined) found.set(endpoint, { endpoint, host, port, addresses });
      else m.addresses = [...new Set([...m.addresses, ...addresses])];
    };
    const self = splitHostPort(this.opts.self);
    add(self.host, self.port, await this.resolve(self.host));
    for (const p of this.opts.peers) {
      const { host, port } = splitHostPort(p);
      add(host, port, await this.resolve(host));
    }
    if (this.opts.peerDns !== '') {
      const { host, port } = splitHostPort(this.opts.peerDns);
      for (const ip of await this.resolve(host)) add(ip, port, [ip]);
    }
    this.apply([...found.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1)));
  }

  private apply(members: Member[]): void {
    const byTag = new Map<number, string[]>();
    const peerAddresses = new Set<string>();
    const self = members.find((m) => m.endpoint === this.selfEndpoint);
    const selfEndpoints = new Set([this.selfEndpoint]);
    for (const m of members) {
      const tag = replicaTag(m.endpoint);
      byTag.set(tag, [...(byTag.get(tag) ?? []), m.endpoint]);
      // Named differently (a DNS answer for a self given by name): still this replica, never a peer.
      if (self !== undefined && m.port === self.port && m.addresses.some((a) => self.addresses.includes(a))) selfEndpoints.add(m.endpoint);
      if (!selfEndpoints.has(m.endpoint)) for (const a of m.addresses) peerAddresses.add(a);
    }
    this.selfEndpoints = selfEndpoints;
    this.members = members;
    this.byTag = byTag;
    this.peerAddresses = peerAddresses;
    const log = this.opts.logger;
    const endpoints = members.map((m) => m.endpoint).join(',');
    if (endpoints !== this.lastEndpoints) {
      this.lastEndpoints = endpoints;
      log.info({ event: 'peer_set_changed', self: this.selfEndpoint, replicas: members.map((m) => m.endpoint) }, 'cluster peer set changed');
    }
    const collisions = [...byTag.values()].filter((e) => e.length > 1);
    const key = JSON.stringify(collisions);
    if (key !== this.lastCollisions) {
      this.lastCollisions = key;
      if (collisions.length > 0) {
        log.warn({ event: 'peer_tag_collision', collisions }, 'replicas share a cancel-key tag: cancels for them are not forwarded (see docs/operations/cancel-forwarding.md)');
      }
    }
  }
}
