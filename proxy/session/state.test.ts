import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPhase, step } from './state.js';
import type { Phase, SessionEvent } from './state.js';
import { protocolViolation } from '../errors/proxy-error.js';

const tlsReady: Phase = { name: 'AwaitingStartupInTls', isDirectTls: false, isHandshakeDone: true };
const authenticating: Phase = { name: 'Authenticating', isTokenVerified: false };
const verified: Phase = { name: 'Authenticating', isTokenVerified: true };

/** [from, event, expected next phase name, expected action types, expected SQLSTATE of a SendFatal] */
const table: Array<[Phase, SessionEvent, Phase['name'], string[], string?]> = [
  [initialPhase, { type: 'SSLRequest' }, 'AwaitingStartupInTls', ['SendSslAccepted', 'StartTls']],
  [initialPhase, { type: 'TlsRecord' }, 'AwaitingStartupInTls', ['StartTls']],
  [initialPhase, { type: 'GSSENCRequest' }, 'AwaitingInitial', ['SendGssEncRefused']],
  [{ name: 'AwaitingInitial', hasRefusedGssEnc: true }, { type: 'GSSENCRequest' }, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [{ name: 'AwaitingInitial', hasRefusedGssEnc: true }, { type: 'SSLRequest' }, 'AwaitingStartupInTls', ['SendSslAccepted', 'StartTls']],
  [initialPhase, { type: 'CancelRequest' }, 'Closing', ['HandleCancel', 'Close']],
  [initialPhase, { type: 'StartupMessage', shouldNegotiate: false }, 'Closing', ['SendFatal', 'Close'], '28000'],
  [initialPhase, { type: 'UnsupportedProtocol', majorVersion: 2, minorVersion: 0 }, 'Closing', ['SendFatal', 'Close'], '28000'],
  [initialPhase, { type: 'PasswordMessage' }, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [initialPhase, { type: 'LoginTimeout' }, 'Closing', ['Close']],
  [{ name: 'AwaitingStartupInTls', isDirectTls: true, isHandshakeDone: false }, { type: 'TlsReady', hasAlpnPostgresql: false }, 'Closing', ['Close']],
  [{ name: 'AwaitingStartupInTls', isDirectTls: true, isHandshakeDone: false }, { type: 'TlsReady', hasAlpnPostgresql: true }, 'AwaitingStartupInTls', []],
  [{ name: 'AwaitingStartupInTls', isDirectTls: false, isHandshakeDone: false }, { type: 'TlsReady', hasAlpnPostgresql: false }, 'AwaitingStartupInTls', []],
  [tlsReady, { type: 'SSLRequest' }, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [tlsReady, { type: 'GSSENCRequest' }, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [tlsReady, { type: 'CancelRequest' }, 'Closing', ['HandleCancel', 'Close']],
  [tlsReady, { type: 'UnsupportedProtocol', majorVersion: 4, minorVersion: 0 }, 'Closing', ['SendFatal', 'Close'], '0A000'],
  [tlsReady, { type: 'StartupMessage', shouldNegotiate: false }, 'AwaitingPassword', ['SendCleartextPasswordRequest']],
  [tlsReady, { type: 'StartupMessage', shouldNegotiate: true }, 'AwaitingPassword', ['SendNegotiateProtocolVersion', 'SendCleartextPasswordRequest']],
  [tlsReady, { type: 'PasswordMessage' }, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [tlsReady, { type: 'LoginTimeout' }, 'Closing', ['Close']],
  [{ name: 'AwaitingPassword' }, { type: 'PasswordMessage' }, 'Authenticating', ['Authenticate']],
  [{ name: 'AwaitingPassword' }, { type: 'Terminate' }, 'Closing', ['Close']],
  [{ name: 'AwaitingPassword' }, { type: 'OtherMessage' }, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [{ name: 'AwaitingPassword' }, { type: 'LoginTimeout' }, 'Closing', ['Close']],
  [authenticating, { type: 'AuthOk' }, 'UpstreamLogin', ['UpstreamLogin']],
  [authenticating, { type: 'PasswordMessage' }, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [authenticating, { type: 'Terminate' }, 'Closing', ['Close']],
  [authenticating, { type: 'LoginTimeout' }, 'Closing', ['SendFatal', 'Close'], '57P03'],
  [authenticating, { type: 'TokenVerified' }, 'Authenticating', []],
  [verified, { type: 'LoginTimeout' }, 'Closing', ['SendFatal', 'Close'], '57P03'],
  [{ name: 'UpstreamLogin' }, { type: 'TokenVerified' }, 'UpstreamLogin', []],
  [{ name: 'Relaying' }, { type: 'TokenVerified' }, 'Relaying', []],
  [{ name: 'UpstreamLogin' }, { type: 'LoginTimeout' }, 'Closing', ['SendFatal', 'Close'], '08006'],
  [{ name: 'UpstreamLogin' }, { type: 'UpstreamReady' }, 'Relaying', ['SendLoginSuccess', 'StartRelay']],
  [{ name: 'UpstreamLogin' }, { type: 'PasswordMessage' }, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [{ name: 'Relaying' }, { type: 'LoginTimeout' }, 'Relaying', []],
  [{ name: 'Relaying' }, { type: 'ClientClosed' }, 'Closing', ['Close']],
  [authenticating, { type: 'Fail', error: protocolViolation('x') }, 'Closing', ['SendFatal', 'Close'], '08P01'],
  [{ name: 'Closing' }, { type: 'SSLRequest' }, 'Closing', []],
  [{ name: 'Closing' }, { type: 'Fail', error: protocolViolation('x') }, 'Closing', []],
];

test('transition table', () => {
  for (const [from, event, toName, actionTypes, sqlstate] of table) {
    const label = `${from.name} + ${event.type}`;
    const { phase, actions } = step(from, event);
    assert.equal(phase.name, toName, label);
    assert.deepEqual(actions.map((a) => a.type), actionTypes, label);
    const fatal = actions.find((a) => a.type === 'SendFatal');
    assert.equal(fatal?.type === 'SendFatal' ? fatal.error.sqlstate : undefined, sqlstate, label);
  }
});

test('a login timeout names the pending AWS stage: sts_unavailable before TokenVerified, credentials_unavailable after', () => {
  const reasonOf = (from: Phase): string | undefined => {
    const fatal = step(from, { type: 'LoginTimeout' }).actions[0];
    return fatal?.type === 'SendFatal' ? fatal.error.reason : undefined;
  };
  assert.equal(reasonOf(authenticating), 'sts_unavailable');
  const afterVerify = step(authenticating, { type: 'TokenVerified' }).phase;
  assert.deepEqual(afterVerify, verified);
  assert.equal(reasonOf(afterVerify), 'credentials_unavailable');
});

test('0A000 carries PostgreSQL\'s exact text for a wrong major version', () => {
  const { actions } = step(tlsReady, { type: 'UnsupportedProtocol', majorVersion: 4, minorVersion: 0 });
  const fatal = actions[0];
  assert.ok(fatal?.type === 'SendFatal');
  assert.equal(fatal.error.clientMessage, 'unsupported frontend protocol 4.0: server supports 3.0 to 3.0');
});

test('step is pure: the input phase object is not mutated', () => {
  const from: Phase = { name: 'AwaitingInitial', hasRefusedGssEnc: false };
  step(from, { type: 'GSSENCRequest' });
  assert.deepEqual(from, { name: 'AwaitingInitial', hasRefusedGssEnc: false });
});
