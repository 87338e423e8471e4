/**
 * fast-check arbitraries for everything a client can send before login (docs/design/wire-protocol.md §2–§6): SSLRequest,
 * GSSENCRequest, CancelRequest, StartupMessage and password sequences, then mutated, truncated and split
 * into chunks at random points. Shared by the in-memory and the socket-level front-door fuzz suites.
 */
import fc from 'fast-check';
import { cancelPacket, cstr, i32, startupPacket, typed } from '../../testkit/raw-wire.js';
import { sslRequest, testPassword } from '../../testkit/session-fakes.js';

/** True when RSPROXY_FUZZ_RUNS asks for a long run (the socket suite then has no time limit). */
export const isLongRun = process.env['RSPROXY_FUZZ_RUNS'] !== undefined;

/** Runs and seed: small and fixed in CI; `RSPROXY_FUZZ_RUNS` / `RSPROXY_FUZZ_SEED` for a long run. */
export function fuzzParameters(defaultRuns: number, divisor = 1): { numRuns: number; seed: number } {
  const runs = process.env['RSPROXY_FUZZ_RUNS'];
  const seed = process.env['RSPROXY_FUZZ_SEED'];
  return {
    numRuns: runs === undefined ? defaultRuns : Math.max(1, Math.floor(Number(runs) / divisor)),
    seed: seed === undefined ? 20261215 : Number(seed),
  };
}

/** GSSENCRequest: length 8, code 80877104. */
export const gssEncRequest = Buffer.concat([i32(8), i32(80877104)]);

const paramName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('user', 'database', 'application_name', 'options', 'replication', 'client_encoding', '_pq_.compression', 'DateStyle', 'USER') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const paramValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('alice', 'dev', '', 'test', '-c search_path=x', 'true', 'database', 'UTF8') },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);
const protocolVersion = fc.constantFrom(196608, 196608, 196608, 196609, 196610, 0x00040000, 0x00020000, 0x00030000 | 0xffff);

/** A StartupMessage: usually a plausible one (alice on dev), sometimes arbitrary parameters or versions. */
export const startupMessage: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(startupPacket([['user', 'alice'], ['database', 'dev']])) },
  { weight: 2, arbitrary: fc.tuple(fc.array(fc.tuple(paramName, paramValue), { maxLength: 6 }), protocolVersion).map(([params, v]) => startupPacket(params, v)) },
);

/** A CancelRequest with any pid and a key of 0–20 bytes (only 4 is valid). */
export const cancelRequest: fc.Arbitrary<Buffer> = fc.tuple(fc.integer(), fc.uint8Array({ maxLength: 20 })).map(([pid, key]) => cancelPacket(pid, Buffer.from(key)));

const password = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(testPassword, testPassword, `${testPassword}\n`, `${testPassword}\r\n`) },
  { weight: 2, arbitrary: fc.constantFrom('wrong', '', 'rsp1.', '\n') },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
);

/** What may follow a StartupMessage: PasswordMessages, Terminate, other typed messages, raw bytes. */
export const passwordSequencePart: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 4, arbitrary: password.map((p) => typed('p', cstr(p))) },
  { weight: 1, arbitrary: fc.constant(typed('X', Buffer.alloc(0))) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Q', 'P', 'S', 'F', 'p', 'd'), fc.uint8Array({ maxLength: 24 })).map(([t, b]) => typed(t, Buffer.from(b))) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 24 }).map((b) => Buffer.from(b)) },
);

/** Any packet a client may send in plaintext before TLS. */
export const plaintextPacket: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(sslRequest) },
  { weight: 2, arbitrary: fc.constant(gssEncRequest) },
  { weight: 2, arbitrary: cancelRequest },
  { weight: 2, arbitrary: startupMessage },
  { weight: 1, arbitrary: passwordSequencePart },
);

type Mutation = { kind: 'flip'; at: number; value: number } | { kind: 'insert'; at: number; bytes: Uint8Array } | { kind: 'delete'; at: number; count: number } | { kind: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

/** Applies mutations in order (positions taken modulo the current length). */
export function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = bytes;
  for (const m of mutations) {
    if (b.length === 0 && m.kind !== 'insert') continue;
    const at = m.at % Math.max(1, b.length);
    if (m.kind === 'flip') b = Buffer.concat([b.subarray(0, at), Buffer.from([m.value]), b.subarray(at + 1)]);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
    else b = b.subarray(0, at);
  }
  return b;
}

/** Splits `bytes` into chunks at the given points (taken modulo the length; empty chunks dropped). */
export function split(bytes: Buffer, points: readonly number[]): Buffer[] {
  const cuts = [...new Set(points.map((p) => (bytes.length === 0 ? 0 : p % bytes.length)))].filter((p) => p > 0).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(from, cut));
    from = cut;
  }
  if (from < bytes.length) chunks.push(bytes.subarray(from));
  return chunks;
}

/** A byte stream built from `parts`, mutated in about a third of the cases, then split into chunks. */
export function chunkedStream(parts: fc.Arbitrary<Buffer[]>): fc.Arbitrary<Buffer[]> {
  return fc
    .tuple(parts, fc.oneof({ weight: 2, arbitrary: fc.constant([] as Mutation[]) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }), fc.array(fc.nat(), { maxLength: 6 }))
    .map(([ps, ms, points]) => split(mutate(Buffer.concat(ps), ms), points));
}

/** What a client does before login, at the socket level. */
export type FrontDoorScenario =
  /** Only plaintext: any packets, mutated, split. */
  | { kind: 'plain'; chunks: Buffer[] }
  /** SSLRequest (after an optional GSSENCRequest), TLS, then a startup + password sequence inside TLS. */
  | { kind: 'tls'; isGssFirst: boolean; plainChunks: Buffer[]; tlsChunks: Buffer[] }
  /** Direct TLS (first byte 0x16), with or without ALPN `postgresql`, then the sequence inside TLS. */
  | { kind: 'direct'; hasAlpn: boolean; tlsChunks: Buffer[] };

const insideTls = chunkedStream(fc.tuple(startupMessage, fc.array(passwordSequencePart, { maxLength: 4 })).map(([s, ps]) => [s, ...ps]));

/** Scenarios, weighted towards the ones that reach the login. */
export const frontDoorScenario: fc.Arbitrary<FrontDoorScenario> = fc.oneof(
  { weight: 3, arbitrary: chunkedStream(fc.array(plaintextPacket, { minLength: 1, maxLength: 4 })).map((chunks) => ({ kind: 'plain' as const, chunks })) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.boolean(), fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 3 }), insideTls)
      .map(([isGssFirst, points, tlsChunks]) => ({ kind: 'tls' as const, isGssFirst, plainChunks: split(sslRequest, points), tlsChunks })),
  },
  { weight: 1, arbitrary: fc.tuple(fc.boolean(), insideTls).map(([hasAlpn, tlsChunks]) => ({ kind: 'direct' as const, hasAlpn, tlsChunks })) },
);
