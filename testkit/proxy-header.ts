/**
 * PROXY protocol headers written from the spec for tests (doc/proxy-protocol.txt), independent of the
 * proxy's decoder: v1 lines and v2 binary headers, plus a loopback "load balancer" that prefixes each
 * connection it forwards with a header of the test's choosing.
 */
import { Buffer } from 'node:buffer';
import * as net from 'node:net';

const v2Signature = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** 4 bytes of a dotted quad, or the 16 of a full or `::`-compressed IPv6 text (tests only feed well-formed text). */
export function ipBytes(text: string): Buffer {
  if (net.isIPv4(text)) return Buffer.from(text.split('.').map(Number));
  if (!net.isIPv6(text)) throw new Error(`not an IP address: ${text}`);
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.map((g) => g.padStart(4, '0')).join(''), 'hex');
}

/** A v1 line: `PROXY TCP4|TCP6 src dst sport dport\r\n`, or `PROXY UNKNOWN\r\n` without addresses. */
export function proxyV1(src?: { address: string; port: number }, dst?: { address: string; port: number }): Buffer {
  if (src === undefined || dst === undefined) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const family = net.isIPv4(src.address) ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${family} ${src.address} ${dst.address} ${src.port} ${dst.port}\r\n`, 'latin1');
}

/** Fields of a v2 header; defaults give a valid TCP header for the addresses' family. */
export interface V2Fields {
  /** ver_cmd byte (default 0x21 = v2 PROXY, or 0x20 = LOCAL when no source is given). */
  verCmd?: number;
  /** fam byte (default 0x11 for IPv4 sources, 0x21 for IPv6, 0x00 without a source). */
  fam?: number;
  source?: { address: Buffer | string; port: number };
  destination?: { address: Buffer | string; port: number };
  /** Raw TLV bytes appended after the addresses. */
  tlvBytes?: Buffer;
  /** Overrides the length field (default: the real length). */
  length?: number;
}

/** A v2 header from raw fields. */
export function proxyV2(f: V2Fields = {}): Buffer {
  const asBytes = (a: Buffer | string): Buffer => (typeof a === 'string' ? ipBytes(a) : a);
  const blocks: Buffer[] = [];
  let fam = 0x00;
  if (f.source !== undefined) {
    const src = asBytes(f.source.address);
    const dst = asBytes(f.destination?.address ?? Buffer.alloc(src.length));
    fam = src.length === 4 ? 0x11 : 0x21;
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(f.source.port, 0);
    ports.writeUInt16BE(f.destination?.port ?? 0, 2);
    blocks.push(src, dst, ports);
  }
  if (f.tlvBytes !== undefined) blocks.push(f.tlvBytes);
  const body = Buffer.concat(blocks);
  const fixed = Buffer.alloc(4);
  fixed[0] = f.verCmd ?? (f.source === undefined ? 0x20 : 0x21);
  fixed[1] = f.fam ?? fam;
  fixed.writeUInt16BE(f.length ?? body.length, 2);
  return Buffer.concat([v2Signature, fixed, body]);
}

/** One TLV (type, 16-bit length, value). */
export function tlv(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(3);
  h[0] = type;
  h.writeUInt16BE(value.length, 1);
  return Buffer.concat([h, value]);
}

/** A loopback balancer: each accepted connection is forwarded to `targetHost:targetPort` (default host 127.0.0.1), from `localAddress`, after `header(n)` (n = 0, 1, … per connection). */
export interface HeaderForwarder {
  port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a HeaderForwarder on 127.0.0.1:0. */
export async function startHeaderForwarder(opts: { targetPort: number; targetHost?: string; localAddress?: string; header: (n: number) => Buffer }): Promise<HeaderForwarder> {
  const sockets = new Set<net.Socket>();
  let n = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: opts.targetHost ?? '127.0.0.1', port: opts.targetPort, ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    upstream.write(opts.header(n++));
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { port: (server.address() as net.AddressInfo).port, close, [Symbol.asyncDispose]: close };
}

/**
 * Connects to 127.0.0.1:port (from `localAddress`), writes `bytes` (with `gapMs` between them), and resolves
 * with every byte received if the server closed, or 'open' if it still held the connection after `waitMs`.
 */
export function probeConnection(port: number, bytes: Buffer[], opts: { localAddress?: string; gapMs?: number; waitMs?: number } = {}): Promise<Buffer | 'open'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port, ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }) });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    const timer = setTimeout(() => (s.destroy(), resolve('open')), opts.waitMs ?? 2000);
    s.on('close', () => (clearTimeout(timer), resolve(Buffer.concat(chunks))));
    s.on('connect', async () => {
      for (const b of bytes) {
        if (s.destroyed) return;
        s.write(b);
        if (opts.gapMs !== undefined) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
    });
  });
}
