/** IPv4/IPv6 text ⇄ bytes and CIDR matching, strict and pure (PROXY v1 addresses, `proxyProtocol.trustedSources`). */
import { Buffer } from 'node:buffer';

/** The 16-byte form of an address (IPv4 as IPv4-mapped IPv6, `::ffff:a.b.c.d`), so one matcher covers both families. */
export type Ip16 = Buffer;

const mappedPrefix = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/** Parses a dotted quad: exactly four decimal 0..255 without leading zeros (PROXY v1 rule); undefined if not one. */
export function parseIpv4(text: string): Buffer | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(?:0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Parses IPv6 text as inet_pton does (1–4 hex digits per group, one `::`, optional dotted IPv4 tail, no zone); undefined if invalid. */
export function parseIpv6(text: string): Buffer | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): number[] | undefined => {
    if (s === '') return [];
    const parts = s.split(':');
    const out: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  // A dotted tail is only allowed at the very end.
  if (halves.length === 2 && halves[0]!.includes('.')) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const groups = [...head, ...Array<number>(8 - total).fill(0), ...tail];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Formats 4 bytes as a dotted quad. */
export function formatIpv4(bytes: Buffer): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** Formats 16 bytes as inet_ntop does (what Node's `socket.remoteAddress` shows): RFC 5952, IPv4-mapped as `::ffff:a.b.c.d`. */
export function formatIpv6(bytes: Buffer): string {
  if (bytes.subarray(0, 12).equals(mappedPrefix)) return `::ffff:${formatIpv4(bytes.subarray(12, 16))}`;
  // IPv4-compatible (deprecated) form, as inet_ntop and so Node show it: six zero groups, then a non-zero seventh.
  if (bytes.subarray(0, 12).every((b) => b === 0) && (bytes[12] !== 0 || bytes[13] !== 0)) return `::${formatIpv4(bytes.subarray(12, 16))}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(bytes.readUInt16BE(i * 2));
  // The longest run of two or more zero groups (the first on a tie) becomes `::`.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** The 16-byte form of an IPv4 or IPv6 address text (as Node reports peers), or undefined. */
export function toIp16(address: string): Ip16 | undefined {
  const v4 = parseIpv4(address);
  if (v4 !== undefined) return Buffer.concat([mappedPrefix, v4]);
  return parseIpv6(address);
}

/** One CIDR block in 16-byte form. */
export interface Cidr {
  network: Ip16;
  /** Prefix length over the 128-bit form (an IPv4 /n is 96 + n). */
  prefixBits: number;
}

/** Parses `a.b.c.d/n`, `x:…/n` or a bare address (a single host); the reason when invalid, including host bits set. */
export function parseCidr(text: string): { cidr: Cidr } | { problem: string } {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const lengthText = slash < 0 ? undefined : text.slice(slash + 1);
  const v4 = parseIpv4(addressText);
  const bytes = v4 !== undefined ? Buffer.concat([mappedPrefix, v4]) : parseIpv6(addressText);
  if (bytes === undefined) return { problem: `${JSON.stringify(addressText)} is not an IPv4 or IPv6 address` };
  const maxBits = v4 !== undefined ? 32 : 128;
  if (lengthText !== undefined && !/^(?:0|[1-9]\d{0,2})$/.test(lengthText)) return { problem: `prefix length ${JSON.stringify(lengthText)} is not a number` };
  const bits = lengthText === undefined ? maxBits : Number(lengthText);
  if (bits > maxBits) return { problem: `prefix length ${bits} is over ${maxBits}` };
  const prefixBits = bits + (v4 !== undefined ? 96 : 0);
  const network = mask(bytes, prefixBits);
  if (!network.equals(bytes)) {
    const shown = v4 !== undefined ? formatIpv4(network.subarray(12)) : formatIpv6(network);
    return { problem: `host bits are set; the network is ${shown}/${bits}` };
  }
  return { cidr: { network, prefixBits } };
}

function mask(bytes: Buffer, prefixBits: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, prefixBits - i * 8));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** True when `address` (16-byte form) lies in `cidr`. */
export function cidrContains(cidr: Cidr, address: Ip16): boolean {
  return mask(address, cidr.prefixBits).equals(cidr.network);
}

/** A set of CIDRs built from validated config text; `has()` accepts IPv4, IPv6 and IPv4-mapped IPv6 peer addresses. */
export class CidrSet {
  private readonly blocks: readonly Cidr[];

  /** Throws on an invalid entry (config validation reports them first). */
  constructor(texts: readonly string[]) {
    this.blocks = texts.map((t) => {
      const r = parseCidr(t);
      if ('problem' in r) throw new Error(`invalid CIDR ${JSON.stringify(t)}: ${r.problem}`);
      return r.cidr;
    });
  }

  /** Number of blocks (0 = the feature is off). */
  get size(): number {
    return this.blocks.length;
  }

  /** True when the address text is inside one of the blocks; false for anything unparsable. */
  has(address: string | undefined): boolean {
    if (address === undefined) return false;
    const ip = toIp16(address);
    return ip !== undefined && this.blocks.some((b) => cidrContains(b, ip));
  }
}
