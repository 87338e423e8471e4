/**
 * The BackendKeyData pid layout with `cluster` set (docs/operations/cancel-forwarding.md): which
 * replica owns a session, and whether a CancelRequest was already forwarded once. The 4-byte secret
 * stays fully random; only the pid carries these fields.
 *
 *   bit 31      0            the pid stays positive (some clients mishandle negative pids)
 *   bit 30      hop flag     0 as issued; set by the replica that forwards the cancel to a peer
 *   bits 29-16  replica tag  14 bits of SHA-256 over the replica's canonical `host:port`
 *   bits 15-0   session no.  1..65535, random, unique among the replica's live sessions
 */
import { createHash } from 'node:crypto';

/** Bits of the replica tag. */
export const replicaTagBits = 14;
/** Bits of the per-replica session number. */
export const sessionNumberBits = 16;
/** Largest session number (session numbers are 1..maxSessionNumber). */
export const maxSessionNumber = 2 ** sessionNumberBits - 1;
const tagMask = 2 ** replicaTagBits - 1;
const hopFlag = 2 ** 30;

/** The fields a cluster pid carries. */
export interface ReplicaPid {
  tag: number;
  sessionNumber: number;
  isForwarded: boolean;
}

/** `host:port` with the host lower-cased and an IPv6 host in its compressed bracketed form. */
export function canonicalEndpoint(host: string, port: number): string {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (!bare.includes(':')) return `${bare}:${port}`;
  // URL parsing compresses an IPv6 literal (and rejects garbage, which is then kept as given).
  try {
    return `${new URL(`http://[${bare}]/`).hostname}:${port}`;
  } catch {
    return `[${bare}]:${port}`;
  }
}

/** The replica tag of a canonical endpoint: the first 14 bits of SHA-256("rsproxy-replica:" + endpoint). */
export function replicaTag(endpoint: string): number {
  const digest = createHash('sha256').update(`rsproxy-replica:${endpoint}`).digest();
  return digest.readUInt16BE(0) >>> (16 - replicaTagBits);
}

/** Builds an issued pid (hop flag clear); throws RangeError on out-of-range fields. */
export function encodeReplicaPid(tag: number, sessionNumber: number): number {
  if (!Number.isInteger(tag) || tag < 0 || tag > tagMask) throw new RangeError(`replica tag ${tag} out of range`);
  if (!Number.isInteger(sessionNumber) || sessionNumber < 1 || sessionNumber > maxSessionNumber) throw new RangeError(`session number ${sessionNumber} out of range`);
  return tag * 2 ** sessionNumberBits + sessionNumber;
}

/** Splits a pid as a client sent it; undefined for pids no replica issues (≤ 0, or session number 0). */
export function decodeReplicaPid(pid: number): ReplicaPid | undefined {
  if (!Number.isInteger(pid) || pid <= 0 || pid >= 2 ** 31) return undefined;
  const sessionNumber = pid & maxSessionNumber;
  if (sessionNumber === 0) return undefined;
  return { tag: (pid >>> sessionNumberBits) & tagMask, sessionNumber, isForwarded: (pid & hopFlag) !== 0 };
}

/** The pid a forwarding replica sends on: the same pid with the hop flag set. */
export function markForwarded(pid: number): number {
  return (pid | hopFlag) >>> 0;
}

/** The pid as issued (hop flag cleared), the form the owner's registry is keyed by. */
export function issuedPid(pid: number): number {
  return (pid & ~hopFlag) >>> 0;
}
