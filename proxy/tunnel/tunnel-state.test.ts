import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sessionLimits, tunnelLimits } from '../config/limits.js';
import { protocolViolation } from '../errors/proxy-error.js';
import { remoteLoginEvent, tunnelInitialPhase, tunnelStep } from './tunnel-state.js';
import type { TunnelContext, TunnelEvent, TunnelPhase } from './tunnel-state.js';

const plain: TunnelContext = { hostPort: 'proxy.example.com:5439', hasLocalTls: false };
const withTls: TunnelContext = { hostPort: 'proxy.example.com:5439', hasLocalTls: true };
const inTls: TunnelPhase = { name: 'AwaitingInitial', isTls: true };
const connecting: TunnelPhase = { name: 'Connecting' };
const authRequest: TunnelPhase = { name: 'AwaitingAuthRequest' };
const authResult: TunnelPhase = { name: 'AwaitingAuthResult' };
const relaying: TunnelPhase = { name: 'Relaying' };
const closing: TunnelPhase = { name: 'Closing' };
const bytes = (n: number): Buffer => Buffer.alloc(n);
const cap = tunnelLimits.maxHeldClientBytes;

/** [from, event, context, expected next phase name, expected action types, expected SQLSTATE of a SendFatal] */
const table: Array<[TunnelPhase, TunnelEvent, TunnelContext, TunnelPhase['name'], string[], string?]> = [
  // Before the startup: the local client's plaintext packets.
  [tunnelInitialPhase, { type: 'SSLRequest', hasTrailingBytes: false }, plain, 'AwaitingInitial', ['SendSslRefused']],
  [tunnelInitialPhase, { type: 'SSLRequest', hasTrailingBytes: false }, withTls, 'AwaitingInitial', ['SendSslAccepted', 'StartTls']],
  [tunnelInitialPhase, { type: 'SSLRequest', hasTrailingBytes: true }, withTls, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [tunnelInitialPhase, { type: 'SSLRequest', hasTrailingBytes: true }, plain, 'AwaitingInitial', ['SendSslRefused']],
  [inTls, { type: 'SSLRequest', hasTrailingBytes: false }, withTls, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [tunnelInitialPhase, { type: 'GSSENCRequest' }, plain, 'AwaitingInitial', ['SendGssEncRefused']],
  [inTls, { type: 'GSSENCRequest' }, withTls, 'AwaitingInitial', ['SendGssEncRefused']],
  [tunnelInitialPhase, { type: 'CancelRequest', packet: bytes(16) }, plain, 'Closing', ['ForwardCancel', 'Close']],
  [inTls, { type: 'CancelRequest', packet: bytes(16) }, withTls, 'Closing', ['ForwardCancel', 'Close']],
  [tunnelInitialPhase, { type: 'UnsupportedProtocol', majorVersion: 4, minorVersion: 0 }, plain, 'Closing', ['SendFatal', 'Close'], '0A000'],
  [tunnelInitialPhase, { type: 'StartupMessage', shouldNegotiate: false }, plain, 'Connecting', ['Connect']],
  [inTls, { type: 'StartupMessage', shouldNegotiate: true }, withTls, 'Connecting', ['SendNegotiateProtocolVersion', 'Connect']],
  [tunnelInitialPhase, { type: 'LoginTimeout' }, plain, 'Closing', ['SendFatal', 'Close'], '08006'],
  [tunnelInitialPhase, { type: 'Shutdown' }, plain, 'Closing', ['SendFatal', 'Close'], '57P01'],
  [tunnelInitialPhase, { type: 'ClientData', bytes: bytes(1), heldBytes: 0 }, plain, 'AwaitingInitial', []],
  [tunnelInitialPhase, { type: 'ClientGone' }, plain, 'Closing', ['Destroy']],
  // Token and dial: pipelined client bytes are held, up to the proxy's limit.
  [connecting, { type: 'RemoteReady' }, plain, 'AwaitingAuthRequest', ['SendStartup']],
  [connecting, { type: 'ClientData', bytes: bytes(100), heldBytes: cap - 100 }, plain, 'Connecting', ['Hold']],
  [connecting, { type: 'ClientData', bytes: bytes(101), heldBytes: cap - 100 }, plain, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [connecting, { type: 'Fail', error: protocolViolation('x') }, plain, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [connecting, { type: 'LoginTimeout' }, plain, 'Closing', ['SendFatal', 'Close'], '08006'],
  [connecting, { type: 'Shutdown' }, plain, 'Closing', ['SendFatal', 'Close'], '57P01'],
  [connecting, { type: 'ClientGone' }, plain, 'Closing', ['Destroy']],
  [connecting, { type: 'RemotePasswordRequest' }, plain, 'Connecting', []],
  // The proxy's login: a cleartext password request, then AuthenticationOk.
  [authRequest, { type: 'RemoteNotice', raw: bytes(8) }, plain, 'AwaitingAuthRequest', ['ForwardToClient']],
  [authRequest, { type: 'RemotePasswordRequest' }, plain, 'AwaitingAuthResult', ['SendPassword']],
  [authRequest, { type: 'RemoteRefused', raw: bytes(8), sqlstate: '53300', message: 'sorry' }, plain, 'Closing', ['LogRefused', 'ForwardToClient', 'Close']],
  [authRequest, { type: 'RemoteNotRsproxy', detail: 'it asked for authentication method 5' }, plain, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [authRequest, { type: 'RemoteClosed' }, plain, 'Closing', ['SendFatal', 'Close'], '08006'],
  [authRequest, { type: 'RemoteError', message: 'ECONNRESET' }, plain, 'Closing', ['SendFatal', 'Close'], '08006'],
  [authRequest, { type: 'ClientData', bytes: bytes(10), heldBytes: 0 }, plain, 'AwaitingAuthRequest', ['Hold']],
  [authRequest, { type: 'RemoteLoginOk', bytes: bytes(9) }, plain, 'Relaying', ['StartRelay']],
  [authResult, { type: 'RemotePasswordRequest' }, plain, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [authResult, { type: 'RemoteNotice', raw: bytes(8) }, plain, 'AwaitingAuthResult', ['ForwardToClient']],
  [authResult, { type: 'RemoteRefused', raw: bytes(8), sqlstate: '28P01', message: 'IAM authentication failed' }, plain, 'Closing', ['LogRefused', 'ForwardToClient', 'Close']],
  [authResult, { type: 'RemoteLoginOk', bytes: bytes(9) }, plain, 'Relaying', ['StartRelay']],
  [authResult, { type: 'ClientData', bytes: bytes(1), heldBytes: cap }, plain, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [authResult, { type: 'LoginTimeout' }, plain, 'Closing', ['SendFatal', 'Close'], '08006'],
  [authResult, { type: 'Shutdown' }, plain, 'Closing', ['SendFatal', 'Close'], '57P01'],
  // Relaying: the relay owns both sockets; only a shutdown says goodbye.
  [relaying, { type: 'Shutdown' }, plain, 'Relaying', ['SendFarewell']],
  [relaying, { type: 'LoginTimeout' }, plain, 'Relaying', []],
  [relaying, { type: 'Fail', error: protocolViolation('x') }, plain, 'Relaying', []],
  [relaying, { type: 'RemoteClosed' }, plain, 'Relaying', []],
  [relaying, { type: 'ClientGone' }, plain, 'Relaying', []],
  // Closing: nothing more is said; a gone client still has its sockets destroyed.
  [closing, { type: 'Fail', error: protocolViolation('x') }, plain, 'Closing', []],
  [closing, { type: 'Shutdown' }, plain, 'Closing', []],
  [closing, { type: 'LoginTimeout' }, plain, 'Closing', []],
  [closing, { type: 'RemoteClosed' }, plain, 'Closing', []],
  [closing, { type: 'ClientData', bytes: bytes(1), heldBytes: 0 }, plain, 'Closing', []],
  [closing, { type: 'ClientGone' }, plain, 'Closing', ['Destroy']],
];

test('transition table', () => {
  for (const [from, event, ctx, toName, actionTypes, sqlstate] of table) {
    const label = `${JSON.stringify(from)} + ${event.type}${ctx.hasLocalTls ? ' (--local-tls)' : ''}`;
    const { phase, actions } = tunnelStep(from, event, ctx);
    assert.equal(phase.name, toName, label);
    assert.deepEqual(actions.map((a) => a.type), actionTypes, label);
    const fatal = actions.find((a) => a.type === 'SendFatal');
    assert.equal(fatal?.type === 'SendFatal' ? fatal.error.sqlstate : undefined, sqlstate, label);
  }
});

test('the tunnel holds as many bytes before login as the proxy does', () => {
  assert.equal(tunnelLimits.maxHeldClientBytes, sessionLimits.maxHeldClientBytes);
  assert.equal(tunnelLimits.maxStartupBytes, sessionLimits.maxStartupBytes);
  assert.equal(tunnelLimits.closeLingerMs, sessionLimits.closeLingerMs);
});

test("the tunnel's own errors name the proxy's host:port; the held-bytes refusal is the proxy's", () => {
  const messageOf = (from: TunnelPhase, event: TunnelEvent): string | undefined => {
    const fatal = tunnelStep(from, event, plain).actions[0];
    return fatal?.type === 'SendFatal' ? fatal.error.clientMessage : undefined;
  };
  assert.equal(messageOf(connecting, { type: 'LoginTimeout' }), 'rsproxy tunnel could not connect to proxy.example.com:5439: login timed out');
  assert.equal(messageOf(authRequest, { type: 'RemoteClosed' }), 'rsproxy tunnel could not connect to proxy.example.com:5439: the server closed the connection during login');
  assert.equal(messageOf(authRequest, { type: 'RemoteNotRsproxy', detail: 'x' }), 'proxy.example.com:5439 is not an rsproxy');
  assert.equal(messageOf(connecting, { type: 'ClientData', bytes: bytes(cap + 1), heldBytes: 0 }), 'too much data sent before authentication completed');
  assert.equal(messageOf(tunnelInitialPhase, { type: 'UnsupportedProtocol', majorVersion: 4, minorVersion: 0 }), 'unsupported frontend protocol 4.0: server supports 3.0 to 3.0');
});

test('actions carry the bytes of their event unchanged', () => {
  const raw = Buffer.from('E-frame');
  const refused = tunnelStep(authRequest, { type: 'RemoteRefused', raw, sqlstate: '53300', message: 'sorry' }, plain).actions;
  assert.deepEqual(refused[0], { type: 'LogRefused', sqlstate: '53300', message: 'sorry' });
  assert.equal(refused[1]?.type === 'ForwardToClient' ? refused[1].bytes : undefined, raw);
  const chunk = Buffer.from('Q...');
  const held = tunnelStep(connecting, { type: 'ClientData', bytes: chunk, heldBytes: 0 }, plain).actions[0];
  assert.equal(held?.type === 'Hold' ? held.bytes : undefined, chunk);
});

test('remoteLoginEvent: one event per remoteLoginStep verdict; AuthenticationOk takes the bytes that followed it', () => {
  const raw = Buffer.from('R-ok');
  const rest = Buffer.from('S-K-Z');
  assert.deepEqual(remoteLoginEvent({ kind: 'loggedIn' }, raw, () => rest), { type: 'RemoteLoginOk', bytes: Buffer.concat([raw, rest]) });
  assert.deepEqual(remoteLoginEvent({ kind: 'sendPassword' }, raw, () => rest), { type: 'RemotePasswordRequest' });
  assert.deepEqual(remoteLoginEvent({ kind: 'forward' }, raw, () => rest), { type: 'RemoteNotice', raw });
  assert.deepEqual(remoteLoginEvent({ kind: 'refused', sqlstate: '28P01', message: 'no' }, raw, () => rest), { type: 'RemoteRefused', raw, sqlstate: '28P01', message: 'no' });
  assert.deepEqual(remoteLoginEvent({ kind: 'notRsproxy', detail: 'd' }, raw, () => rest), { type: 'RemoteNotRsproxy', detail: 'd' });
});

test('tunnelStep is pure: the input phase object is not mutated', () => {
  const from: TunnelPhase = { name: 'AwaitingInitial', isTls: false };
  tunnelStep(from, { type: 'SSLRequest', hasTrailingBytes: false }, withTls);
  assert.deepEqual(from, { name: 'AwaitingInitial', isTls: false });
});
