/**
 * PROXY protocol (HAProxy, AWS NLB) v1 and v2 header: constants and a pure, incremental decoder with hard
 * size caps. @see https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 */
import { Buffer } from 'node:buffer';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './ip-address.js';
import { ProtocolError } from './protocol-error.js';

/** The 12-byte signature that opens every v2 header. */
export const proxyV2Signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A complete v2 `LOCAL` header (version 2, command LOCAL, family UNSPEC, no addresses): the sender speaks for itself. */
export const proxyV2LocalHeader = Buffer.concat([proxyV2Signature, Buffer.from([0x20, 0x00, 0x00, 0x00])]);

/** The v1 line prefix, `PROXY ` (US-ASCII). */
export const proxyV1Prefix = Buffer.from('PROXY ', 'latin1');

/** Longest v1 line the spec allows, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses and ports). */
export const maxProxyV1HeaderBytes = 107;

/**
 * Longest v2 header accepted, 16-byte fixed part included. The spec designs both versions to fit the
 * smallest TCP segment every host supports (576 − 40 = 536 bytes); that leaves 520 bytes for addresses
 * (at most 216, AF_UNIX) and TLVs, more than an AWS NLB (VPC endpoint TLV) or HAProxy's `send-proxy-v2`
 * sends. A longer header is refused before any of it is buffered beyond this.
 */
export const maxProxyV2HeaderBytes = 536;

/** Why a header was refused: a closed set, used as the `reason` metric label. */
export const ProxyHeaderRejectReason = {
  /** Neither the v1 `PROXY ` prefix nor the v2 signature (includes "no header at all"). */
  Signature: 'signature',
  /** v2 version nibble other than 2. */
  Version: 'version',
  /** v2 command other than LOCAL/PROXY. */
  Command: 'command',
  /** Unknown v1 protocol; v2 family/transport unassigned, or not TCP over IPv4/IPv6 on a PROXY command. */
  Family: 'family',
  /** v2 length too short for the family's addresses, or a TLV running past the header. */
  Length: 'length',
  /** v1 address or port text that is not canonical for its family. */
  Address: 'address',
  /** v1 structure: fields, single spaces, a lone CR or LF. */
  Format: 'format',
  /** Longer than maxProxyV1HeaderBytes / maxProxyV2HeaderBytes. */
  Oversize: 'oversize',
} as const;
/** One reject reason. */
export type ProxyHeaderRejectReason = (typeof ProxyHeaderRejectReason)[keyof typeof ProxyHeaderRejectReason];

/** A malformed, unsupported or oversize PROXY header; `reason` is a closed label, the message never echoes an address. */
export class ProxyHeaderError extends ProtocolError {
  readonly reason: ProxyHeaderRejectReason;

  constructor(reason: ProxyHeaderRejectReason, message: string) {
    super(`PROXY header refused (${reason}): ${message}`);
    this.reason = reason;
  }
}

/** One end of the proxied connection. */
export interface ProxyEndpoint {
  /** Address text as Node formats peers: dotted quad, or RFC 5952 IPv6. */
  address: string;
  port: number;
}

/**
 * A decoded header. `local`: a v2 LOCAL (health check, or a replica's own forwarded cancel) or a v1
 * UNKNOWN line: the sender speaks for itself, so the TCP peer stays the client. `proxied`: TCP over IPv4/IPv6
 * on behalf of `source`.
 */
export type ProxyHeader =
  | { version: 1 | 2; kind: 'local' }
  | { version: 1 | 2; kind: 'proxied'; family: 'ipv4' | 'ipv6'; source: ProxyEndpoint; destination: ProxyEndpoint };

/** A complete header and the number of bytes it took. */
export interface DecodedProxyHeader {
  header: ProxyHeader;
  headerBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;
const v1Protocols = ['TCP4 ', 'TCP6 ', 'UNKNOWN'] as const;

const fail = (reason: ProxyHeaderRejectReason, message: string): never => {
  throw new ProxyHeaderError(reason, message);
};

/**
 * Decodes a header at the start of `buf`: the header, undefined when more bytes are needed, or a thrown
 * ProxyHeaderError as soon as the bytes seen so far cannot start a valid header. Never reads past the caps.
 */
export function decodeProxyHeader(buf: Buffer): DecodedProxyHeader | undefined {
  if (buf.length === 0) return undefined;
  if (buf[0] === proxyV1Prefix[0]) return decodeV1(buf);
  if (buf[0] === proxyV2Signature[0]) return decodeV2(buf);
  return fail('signature', 'the connection does not start with a PROXY header');
}

function startsWithPrefixOf(buf: Buffer, expected: Buffer): boolean {
  const n = Math.min(buf.length, expected.length);
  return buf.subarray(0, n).equals(expected.subarray(0, n));
}

function decodeV1(buf: Buffer): DecodedProxyHeader | undefined {
  if (!startsWithPrefixOf(buf, proxyV1Prefix)) fail('signature', 'bad v1 prefix');
  if (buf.length <= proxyV1Prefix.length) return undefined;
  const afterPrefix = buf.subarray(proxyV1Prefix.length, Math.min(buf.length, maxProxyV1HeaderBytes)).toString('latin1');
  if (!v1Protocols.some((p) => afterPrefix.startsWith(p) || p.startsWith(afterPrefix))) fail('family', 'v1 protocol is not TCP4, TCP6 or UNKNOWN');
  const limit = Math.min(buf.length, maxProxyV1HeaderBytes);
  let cr = -1;
  for (let i = proxyV1Prefix.length; i < limit; i++) {
    if (buf[i] === LF) fail('format', 'v1 line has a LF without CR');
    if (buf[i] === CR) {
      cr = i;
      break;
    }
  }
  if (cr < 0) {
    if (buf.length >= maxProxyV1HeaderBytes) fail('oversize', `no CRLF in the first ${maxProxyV1HeaderBytes} bytes`);
    return undefined;
  }
  if (cr + 2 > maxProxyV1HeaderBytes) fail('oversize', `no CRLF in the first ${maxProxyV1HeaderBytes} bytes`);
  if (cr + 1 >= buf.length) return undefined;
  if (buf[cr + 1] !== LF) fail('format', 'v1 line has a CR without LF');
  const line = buf.subarray(proxyV1Prefix.length, cr).toString('latin1');
  const headerBytes = cr + 2;
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) return { header: { version: 1, kind: 'local' }, headerBytes };
  const fields = line.split(' ');
  const family = fields[0] === 'TCP4' ? 'ipv4' : fields[0] === 'TCP6' ? 'ipv6' : fail('family', 'v1 protocol is not TCP4, TCP6 or UNKNOWN');
  if (fields.length !== 5) fail('format', 'v1 line needs protocol, two addresses and two ports separated by single spaces');
  const [, src, dst, sport, dport] = fields as [string, string, string, string, string];
  const address = (text: string): string => {
    if (family === 'ipv4') {
      const b = parseIpv4(text);
      return b === undefined ? fail('address', 'v1 TCP4 address is not a canonical dotted quad') : formatIpv4(b);
    }
    const b = parseIpv6(text);
    return b === undefined ? fail('address', 'v1 TCP6 address is not IPv6') : formatIpv6(b);
  };
  const port = (text: string): number => {
    if (!/^(?:0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) fail('address', 'v1 port is not a decimal 0..65535 without leading zeros');
    return Number(text);
  };
  return {
    header: { version: 1, kind: 'proxied', family, source: { address: address(src), port: port(sport) }, destination: { address: address(dst), port: port(dport) } },
    headerBytes,
  };
}

function decodeV2(buf: Buffer): DecodedProxyHeader | undefined {
  if (!startsWithPrefixOf(buf, proxyV2Signature)) fail('signature', 'bad v2 signature');
  if (buf.length > 12) {
    const verCmd = buf[12]!;
    if (verCmd >> 4 !== 2) fail('version', 'v2 version nibble is not 2');
    if ((verCmd & 0x0f) > 1) fail('command', 'v2 command is neither LOCAL nor PROXY');
  }
  if (buf.length > 13) {
    const fam = buf[13]!;
    if (fam >> 4 > 3 || (fam & 0x0f) > 2) fail('family', 'v2 address family or transport is unassigned');
  }
  if (buf.length < 16) return undefined;
  const headerBytes = 16 + buf.readUInt16BE(14);
  if (headerBytes > maxProxyV2HeaderBytes) fail('oversize', `v2 header of ${headerBytes} bytes is over ${maxProxyV2HeaderBytes}`);
  if (buf.length < headerBytes) return undefined;
  // LOCAL: the spec says to skip the whole block, addresses and family included.
  if ((buf[12]! & 0x0f) === 0) return { header: { version: 2, kind: 'local' }, headerBytes };
  const fam = buf[13]!;
  // PROXY over anything but TCP/IPv4 or TCP/IPv6 carries no address a PostgreSQL client could have; the
  // spec lets a receiver refuse it, and falling back to the balancer's own address would silently lump all clients together.
  if (fam !== 0x11 && fam !== 0x21) return fail('family', 'v2 PROXY command is not TCP over IPv4 or IPv6');
  const addressBytes = fam === 0x11 ? 12 : 36;
  if (headerBytes - 16 < addressBytes) fail('length', 'v2 length is shorter than the addresses of its family');
  const a = buf.subarray(16, 16 + addressBytes);
  const ipBytes = fam === 0x11 ? 4 : 16;
  const format = fam === 0x11 ? formatIpv4 : formatIpv6;
  skipTlvs(buf, 16 + addressBytes, headerBytes);
  return {
    header: {
      version: 2,
      kind: 'proxied',
      family: fam === 0x11 ? 'ipv4' : 'ipv6',
      source: { address: format(a.subarray(0, ipBytes)), port: a.readUInt16BE(2 * ipBytes) },
      destination: { address: format(a.subarray(ipBytes, 2 * ipBytes)), port: a.readUInt16BE(2 * ipBytes + 2) },
    },
    headerBytes,
  };
}

/** TLVs are not used, but their framing must fit the header exactly (as HAProxy checks). */
function skipTlvs(buf: Buffer, from: number, end: number): void {
  let at = from;
  while (at < end) {
    if (at + 3 > end) fail('length', 'v2 TLV header runs past the header');
    at += 3 + buf.readUInt16BE(at + 1);
    if (at > end) fail('length', 'v2 TLV value runs past the header');
  }
}

/** Incremental decoding over any chunking: buffers at most one header's worth of bytes and hands back what follows it. */
export class ProxyHeaderFramer {
  private buffered: Buffer = Buffer.alloc(0);

  /** Bytes held so far (always below the cap of the header version). */
  get bufferedBytes(): number {
    return this.buffered.length;
  }

  /** Adds bytes; returns the header and the bytes after it once complete, undefined while incomplete; throws ProxyHeaderError. */
  push(chunk: Buffer): { header: ProxyHeader; rest: Buffer } | undefined {
    const all = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const decoded = decodeProxyHeader(all);
    if (decoded === undefined) {
      // Incomplete implies fewer bytes than the cap (the decoder throws otherwise); copy so a pooled chunk is not pinned.
      this.buffered = Buffer.from(all);
      return undefined;
    }
    this.buffered = Buffer.alloc(0);
    return { header: decoded.header, rest: all.subarray(decoded.headerBytes) };
  }
}
