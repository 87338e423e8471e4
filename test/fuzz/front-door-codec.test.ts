/**
 * Issue 15: the front door fuzzed in memory, fast: the startup framer and decoder, the password phase and the
 * session state machine get mutated, truncated and split pre-login input. Errors must be the codec's
 * ProtocolError or a ProxyError whose SQLSTATE the contract allows (never XX000, never a TypeError or
 * RangeError); buffers stay within their caps; splitting never changes what is decoded.
 * Fixed seed and 1,000 runs each here; RSPROXY_FUZZ_RUNS / RSPROXY_FUZZ_SEED for a long run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProxyError } from '../../proxy/errors/proxy-error.js';
import { decodeStartupPacket } from '../../proxy/protocol/frontend.js';
import type { StartupPacket } from '../../proxy/protocol/frontend.js';
import { ProtocolError } from '../../proxy/protocol/protocol-error.js';
import { StartupFramer } from '../../proxy/protocol/startup-framer.js';
import { maxHeldClientBytes, PasswordPhase } from '../../proxy/session/authentication.js';
import { toSessionError } from '../../proxy/session/login-failure.js';
import { initialPhase, step } from '../../proxy/session/state.js';
import type { Phase, SessionEvent } from '../../proxy/session/state.js';
import { chunkedStream, fuzzParameters, passwordSequencePart, plaintextPacket, split } from './front-door-arbitraries.js';
import { expectedSqlstates } from './front-door-outcome.js';
import { collectGarbage, heapUsedBytes } from '../../testkit/heap.js';

const params = fuzzParameters(1000);
const maxStartupBytes = 10_000;

/** The SQLSTATE the session would send for `err`; fails on anything that is not a defined refusal. */
function definedSqlstate(err: unknown): string {
  assert.ok(err instanceof ProtocolError || err instanceof ProxyError, `not a defined refusal: ${err instanceof Error ? err.stack : String(err)}`);
  const sqlstate = toSessionError(err, 'alice').sqlstate;
  assert.ok(expectedSqlstates.has(sqlstate), `SQLSTATE ${sqlstate}`);
  return sqlstate;
}

/** Feeds chunks to a StartupFramer and decodes packets until the first error (the session closes there). */
function decodeStream(chunks: readonly Buffer[]): { packets: StartupPacket[]; error?: string } {
  const framer = new StartupFramer({ maxStartupBytes });
  const packets: StartupPacket[] = [];
  try {
    for (const chunk of chunks) {
      framer.push(chunk);
      assert.ok(framer.bufferedBytes <= maxStartupBytes + chunk.length, 'the framer holds at most one capped packet plus the last chunk');
      for (let p = framer.next(); p !== undefined; p = framer.next()) packets.push(decodeStartupPacket(p));
    }
  } catch (err) {
    return { packets, error: definedSqlstate(err) };
  }
  return { packets };
}

test('startup framer + decoder: any pre-login stream, split anywhere, decodes or fails with 08P01 only', () => {
  const before = heapUsedBytes();
  fc.assert(
    fc.property(chunkedStream(fc.array(plaintextPacket, { minLength: 1, maxLength: 5 })), (chunks) => {
      const { error } = decodeStream(chunks);
      if (error !== undefined) assert.equal(error, '08P01');
    }),
    params,
  );
  collectGarbage();
  assert.ok(heapUsedBytes() - before < 32 * 1024 * 1024, 'heap bounded');
});

test('startup framer + decoder: where a stream is split never changes what it decodes to', () => {
  fc.assert(
    fc.property(fc.array(plaintextPacket, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), (packets, points) => {
      const whole = Buffer.concat(packets);
      assert.deepEqual(decodeStream(split(whole, points)), decodeStream([whole]));
    }),
    params,
  );
});

/** Drives a PasswordPhase as the session does: feedPassword until the PasswordMessage, feedHeld after it. */
function runPasswordPhase(chunks: readonly Buffer[]): { events: string[]; sqlstate?: string; heldBytes: number } {
  const events: string[] = [];
  let failure: unknown;
  let isOver = false;
  const phase = new PasswordPhase(
    {
      dispatch: (e: SessionEvent) => {
        events.push(e.type);
        // Terminate and any other message than a password end the login; a second password is a violation.
        if (e.type !== 'PasswordMessage' || events.filter((t) => t === 'PasswordMessage').length > 1) isOver = true;
      },
      fail: (err) => {
        failure ??= err;
        isOver = true;
      },
    },
    'alice',
    8192,
  );
  for (const chunk of chunks) {
    if (isOver) break;
    if (events.includes('PasswordMessage')) phase.feedHeld(chunk);
    else phase.feedPassword(chunk);
  }
  if (events.includes('PasswordMessage') && failure === undefined) assert.notEqual(phase.takePassword(), '', 'a PasswordMessage yields a non-empty password');
  const heldBytes = phase.takeHeld().length;
  return { events, heldBytes, ...(failure === undefined ? {} : { sqlstate: definedSqlstate(failure) }) };
}

test('password phase: any password sequence, mutated and split, yields defined events or a 08P01/28P01 refusal; held bytes stay capped', () => {
  fc.assert(
    fc.property(chunkedStream(fc.array(passwordSequencePart, { minLength: 1, maxLength: 6 })), (chunks) => {
      const r = runPasswordPhase(chunks);
      for (const e of r.events) assert.ok(['PasswordMessage', 'Terminate', 'OtherMessage'].includes(e), e);
      if (r.sqlstate !== undefined) assert.ok(r.sqlstate === '08P01' || r.sqlstate === '28P01', r.sqlstate);
      assert.ok(r.heldBytes <= maxHeldClientBytes);
    }),
    params,
  );
});

test('password phase: a pipelining client sending more than 64 KiB before login is refused with 08P01', () => {
  const big = Buffer.concat(Array.from({ length: 20 }, () => Buffer.concat([Buffer.from('Q'), Buffer.from([0, 0, 0x10, 4]), Buffer.alloc(0x1000, 0x61)])));
  fc.assert(
    fc.property(fc.array(fc.nat(), { maxLength: 8 }), (points) => {
      const password = Buffer.from([0x70, 0, 0, 0, 23, ...Buffer.from('rsp1.test-password'), 0]);
      assert.equal(runPasswordPhase(split(Buffer.concat([password, big]), points)).sqlstate, '08P01');
    }),
    { ...params, numRuns: Math.min(params.numRuns, 100) },
  );
});

const sessionEvent: fc.Arbitrary<SessionEvent> = fc.oneof(
  fc.constantFrom<SessionEvent>(
    { type: 'TlsRecord' },
    { type: 'SSLRequest' },
    { type: 'GSSENCRequest' },
    { type: 'CancelRequest' },
    { type: 'StartupMessage', shouldNegotiate: false },
    { type: 'StartupMessage', shouldNegotiate: true },
    { type: 'TlsReady', hasAlpnPostgresql: true },
    { type: 'TlsReady', hasAlpnPostgresql: false },
    { type: 'PasswordMessage' },
    { type: 'Terminate' },
    { type: 'OtherMessage' },
    { type: 'TokenVerified' },
    { type: 'AuthOk' },
    { type: 'UpstreamReady' },
    { type: 'LoginTimeout' },
    { type: 'ClientClosed' },
  ),
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })).map(([majorVersion, minorVersion]): SessionEvent => ({ type: 'UnsupportedProtocol', majorVersion, minorVersion })),
);

test('session state machine: any order of pre-login events gives a known phase, and every FATAL carries a contract SQLSTATE', () => {
  const phases: ReadonlySet<Phase['name']> = new Set(['AwaitingInitial', 'AwaitingStartupInTls', 'AwaitingPassword', 'Authenticating', 'UpstreamLogin', 'Relaying', 'Closing']);
  fc.assert(
    fc.property(fc.array(sessionEvent, { maxLength: 12 }), (events) => {
      let phase: Phase = initialPhase;
      for (const event of events) {
        const t = step(phase, event);
        assert.ok(phases.has(t.phase.name), t.phase.name);
        for (const a of t.actions) if (a.type === 'SendFatal') assert.ok(expectedSqlstates.has(a.error.sqlstate), a.error.sqlstate);
        if (phase.name === 'Closing') assert.equal(t.phase.name, 'Closing', 'nothing reopens a closing session');
        phase = t.phase;
      }
    }),
    params,
  );
});
