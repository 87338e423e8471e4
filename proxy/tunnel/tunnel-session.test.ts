import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { AwsCredentialsError } from '../../auth/errors.js';
import { captureLogger } from '../../testkit/capture-logger.js';
import type { LogLine } from '../../testkit/capture-logger.js';
import { getTestPki } from '../../testkit/certs.js';
import { cancelPacket, cstr, errorFields, i32, splitMessages, startupPacket, typed, WireReader } from '../../testkit/raw-wire.js';
import { sslRequest } from '../../testkit/raw-pg-client.js';
import type { StartupMessage } from '../protocol/frontend.js';
import { startTunnelListener } from './tunnel-listener.js';
import type { TunnelListener } from './tunnel-listener.js';
import { dialFailureReason, remoteLoginStep, tunnelStartupParameters } from './tunnel-startup.js';
import type { TunnelDialFn } from './tunnel-startup.js';
import { afterLogin, authOk, fakeRsproxy as fakeRemote } from '../../testkit/fake-rsproxy.js';
import type { FakeRsproxy as FakeRemote } from '../../testkit/fake-rsproxy.js';
import type { Frame } from '../protocol/framer.js';
import { UpstreamLoginError, UpstreamLoginErrorCode } from '../upstream/error.js';

const token = 'rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.secret-signature';
const gssEncRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);

const listeners: TunnelListener[] = [];
after(async () => {
  for (const l of listeners) await l.close();
});

async function listen(remote: FakeRemote, opts: { lines?: LogLine[]; failTokens?: Error; localTls?: { certPem: string; keyPem: string }; dial?: TunnelDialFn } = {}): Promise<TunnelListener> {
  const l = await startTunnelListener({
    listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
    remote: { host: 'proxy.example.com', port: 5439, tlsMode: 'verify-full' },
    overrides: { user: 'alice', database: 'dev' },
    tokens: {
      token: async () => {
        if (opts.failTokens !== undefined) throw opts.failTokens;
        return { token, isReused: false };
      },
    },
    logger: captureLogger(opts.lines ?? []),
    dial: opts.dial ?? remote.dial,
    sendCancel: async (packet) => void remote.cancels.push(packet),
    ...(opts.localTls === undefined ? {} : { localTls: opts.localTls }),
  });
  listeners.push(l);
  return l;
}

async function client(port: number): Promise<{ socket: net.Socket; reader: WireReader }> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  return { socket, reader: new WireReader(socket) };
}

/** Writes `bytes` one small piece at a time, letting each piece arrive as its own read. */
async function writeSplit(socket: net.Socket, bytes: Buffer, pieceBytes: number): Promise<void> {
  for (let i = 0; i < bytes.length; i += pieceBytes) {
    socket.write(bytes.subarray(i, i + pieceBytes));
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('GSSENCRequest then SSLRequest are refused with N, then a startup split into 3-byte reads logs in; the remote bytes reach the client verbatim', async () => {
  const remote = await fakeRemote('rsproxy');
  const lines: LogLine[] = [];
  const l = await listen(remote, { lines });
  const { socket, reader } = await client(l.port);
  await writeSplit(socket, gssEncRequest, 3);
  assert.equal((await reader.bytes(1)).toString(), 'N');
  await writeSplit(socket, sslRequest, 3);
  assert.equal((await reader.bytes(1)).toString(), 'N');
  await writeSplit(socket, startupPacket([['user', 'bob'], ['database', 'other'], ['application_name', 'psql'], ['DateStyle', 'ISO']]), 3);
  const first = await reader.bytes(authOk.length + afterLogin.length);
  assert.deepEqual(first, Buffer.concat([authOk, afterLogin]), 'AuthenticationOk, ParameterStatus, BackendKeyData, ReadyForQuery unchanged');
  assert.deepEqual(remote.passwords, [token]);
  assert.deepEqual(remote.startups[0]?.parameters, [['user', 'alice'], ['database', 'dev'], ['application_name', 'psql'], ['DateStyle', 'ISO']]);
  // Relaying: the fake remote echoes.
  const query = typed('Q', cstr('select 1'));
  socket.write(query);
  assert.deepEqual(await reader.bytes(query.length), query);
  socket.destroy();
  remote.close();
  assert.ok(lines.some((x) => x.msg === 'logged in to proxy.example.com:5439 as alice (database dev)'));
  assert.ok(lines.every((x) => !JSON.stringify(x).includes(token)), 'no log line holds the token');
});

for (const mode of ['md5', 'sasl'] as const) {
  test(`a remote asking for ${mode} gets no token; the client gets FATAL 08P01 "proxy.example.com:5439 is not an rsproxy"`, async () => {
    const remote = await fakeRemote(mode);
    const l = await listen(remote);
    const { socket, reader } = await client(l.port);
    socket.write(startupPacket([['user', 'alice']]));
    const m = await reader.next();
    assert.equal(m.type, 'E');
    const f = errorFields(m.body);
    assert.equal(f.get('S'), 'FATAL');
    assert.equal(f.get('C'), '08P01');
    assert.equal(f.get('M'), 'proxy.example.com:5439 is not an rsproxy');
    await reader.closed;
    assert.deepEqual(remote.passwords, []);
    remote.close();
  });
}

test("the remote's ErrorResponse before the password reaches the client verbatim", async () => {
  const remote = await fakeRemote('error');
  const l = await listen(remote);
  const { socket, reader } = await client(l.port);
  socket.write(startupPacket([['user', 'alice']]));
  const m = await reader.next();
  assert.equal(m.type, 'E');
  assert.equal(errorFields(m.body).get('C'), '53300');
  await reader.closed;
  remote.close();
});

test('dial failures are FATAL 08006 naming host:port and the reason; the listener keeps accepting', async () => {
  const remote = await fakeRemote('rsproxy');
  const tlsFailure = new UpstreamLoginError(UpstreamLoginErrorCode.Tls, 'upstream TLS handshake failed: self-signed certificate in certificate chain', {
    cause: new Error('self-signed certificate in certificate chain'),
  });
  const l = await listen(remote, { dial: async () => Promise.reject(tlsFailure) });
  for (let i = 0; i < 2; i++) {
    const { socket, reader } = await client(l.port);
    socket.write(startupPacket([['user', 'alice']]));
    const f = errorFields((await reader.next()).body);
    assert.equal(f.get('C'), '08006');
    assert.equal(f.get('M'), 'rsproxy tunnel could not connect to proxy.example.com:5439: TLS failed: self-signed certificate in certificate chain');
  }
  remote.close();
});

test('dialFailureReason: the OS or TLS message without the proxy-side wording', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5439'), { code: 'ECONNREFUSED' });
  assert.equal(dialFailureReason(new UpstreamLoginError(UpstreamLoginErrorCode.Connect, 'upstream connect failed: x', { cause: refused })), 'connect ECONNREFUSED 127.0.0.1:5439');
  assert.equal(dialFailureReason(new UpstreamLoginError(UpstreamLoginErrorCode.Timeout, 'upstream TCP connect timed out')), 'TCP connect timed out');
  assert.equal(dialFailureReason(new UpstreamLoginError(UpstreamLoginErrorCode.Tls, 'upstream does not accept TLS (answered N to SSLRequest)')), 'does not accept TLS (answered N to SSLRequest)');
});

test('unusable AWS credentials: FATAL 28000 with the profile, the reason and the fix as HINT; nothing is sent to the remote', async () => {
  const remote = await fakeRemote('rsproxy');
  const lines: LogLine[] = [];
  const l = await listen(remote, { lines, failTokens: new AwsCredentialsError('corp', 'The SSO session has expired', 'run "aws sso login --profile corp", then connect again') });
  const { socket, reader } = await client(l.port);
  socket.write(startupPacket([['user', 'alice']]));
  const f = errorFields((await reader.next()).body);
  assert.equal(f.get('C'), '28000');
  assert.equal(f.get('M'), 'no usable AWS credentials (profile corp): The SSO session has expired');
  assert.equal(f.get('H'), 'Run "aws sso login --profile corp", then connect again.');
  await reader.closed;
  assert.deepEqual(remote.startups, []);
  assert.ok(lines.some((x) => x.level === 'warn' && x.msg?.startsWith('28000 no usable AWS credentials')));
  remote.close();
});

test('a CancelRequest is forwarded unchanged and gets no reply', async () => {
  const remote = await fakeRemote('rsproxy');
  const l = await listen(remote);
  const { socket, reader } = await client(l.port);
  const packet = cancelPacket(4242, Buffer.from([0x0b, 0xad, 0xf0, 0x0d]));
  await writeSplit(socket, packet, 5);
  await reader.closed;
  assert.deepEqual(remote.cancels, [packet]);
  assert.equal(reader.received.length, 0);
  remote.close();
});

test('--local-tls: SSLRequest → S, TLS with the given certificate, then the login inside TLS', async () => {
  const pki = await getTestPki();
  const remote = await fakeRemote('rsproxy');
  const l = await listen(remote, { localTls: { certPem: pki.serverCertPem, keyPem: pki.serverKeyPem } });
  const { socket, reader } = await client(l.port);
  socket.write(sslRequest);
  assert.equal((await reader.bytes(1)).toString(), 'S');
  socket.removeAllListeners('data');
  const secure = tls.connect({ socket, ca: pki.caPem, servername: 'localhost' });
  await new Promise<void>((r, j) => secure.once('secureConnect', r).once('error', j));
  const inner = new WireReader(secure);
  secure.write(startupPacket([['user', 'alice']]));
  const got = splitMessages(await inner.bytes(authOk.length + afterLogin.length)).map((m) => m.type);
  assert.deepEqual(got, ['R', 'S', 'K', 'Z']);
  secure.destroy();
  remote.close();
});

test('startup parameters: --user/--dbname replace the client\'s, others pass in order, _pq_ options dropped and negotiated', () => {
  const packet: StartupMessage = { kind: 'StartupMessage', majorVersion: 3, minorVersion: 2, parameters: [['database', 'x'], ['user', 'bob'], ['_pq_.foo', '1'], ['search_path', 'a']] };
  assert.deepEqual(tunnelStartupParameters(packet, { user: 'alice', database: 'dev' }), {
    parameters: [['user', 'alice'], ['database', 'dev'], ['search_path', 'a']],
    unsupportedOptions: ['_pq_.foo'],
    shouldNegotiate: true,
  });
  const plain: StartupMessage = { kind: 'StartupMessage', majorVersion: 3, minorVersion: 0, parameters: [['user', 'bob'], ['_pq_.compression', 'on']] };
  assert.deepEqual(tunnelStartupParameters(plain, {}), { parameters: [['user', 'bob']], unsupportedOptions: ['_pq_.compression'], shouldNegotiate: false });
});

test('startup parameters: the tunnel forwards what the proxy judges (options, timeouts, x.y settings, replication, IdP and Redshift-only keys); USER/Database overridden case-insensitively', () => {
  const rest: Array<readonly [string, string]> = [
    ['options', '-c statement_timeout=3s -c app.tenant=acme'],
    ['statement_timeout', '3000'],
    ['app.tenant', 'acme'],
    ['nosuch_param', '1'],
    ['replication', 'database'],
    ['idp_type', 'AzureAD'],
    ['client_protocol_version', '3'],
  ];
  const packet: StartupMessage = { kind: 'StartupMessage', majorVersion: 3, minorVersion: 0, parameters: [['USER', 'bob'], ['Database', 'x'], ...rest] };
  assert.deepEqual(tunnelStartupParameters(packet, { user: 'alice', database: 'dev' }), {
    parameters: [['user', 'alice'], ['database', 'dev'], ...rest],
    unsupportedOptions: [],
    shouldNegotiate: false,
  });
  assert.deepEqual(tunnelStartupParameters(packet, {}).parameters, packet.parameters);
});

test('remoteLoginStep: the password only for a cleartext request before it; Ok after it; other methods are not an rsproxy', () => {
  const frame = (raw: Buffer): Frame => ({ type: raw[0] ?? 0, body: raw.subarray(5), raw });
  const cleartext = frame(typed('R', i32(3)));
  assert.deepEqual(remoteLoginStep('awaitingAuthRequest', cleartext), { kind: 'sendPassword' });
  assert.deepEqual(remoteLoginStep('awaitingAuthResult', cleartext), { kind: 'notRsproxy', detail: 'it asked for authentication method 3' });
  assert.deepEqual(remoteLoginStep('awaitingAuthResult', frame(authOk)), { kind: 'loggedIn' });
  assert.deepEqual(remoteLoginStep('awaitingAuthRequest', frame(typed('R', Buffer.concat([i32(5), Buffer.from([1, 2, 3, 4])])))), { kind: 'notRsproxy', detail: 'it asked for authentication method 5' });
  assert.deepEqual(remoteLoginStep('awaitingAuthRequest', frame(typed('R', Buffer.concat([i32(10), cstr('SCRAM-SHA-256'), Buffer.from([0])])))), { kind: 'notRsproxy', detail: 'it asked for authentication method 10' });
  assert.deepEqual(remoteLoginStep('awaitingAuthRequest', frame(typed('Z', Buffer.from('I')))), { kind: 'notRsproxy', detail: 'unexpected message type 0x5a during login' });
  assert.deepEqual(remoteLoginStep('awaitingAuthResult', frame(typed('E', Buffer.from('SFATAL\0C28P01\0Mno\0\0')))), { kind: 'refused', sqlstate: '28P01', message: 'no' });
  assert.deepEqual(remoteLoginStep('awaitingAuthRequest', frame(typed('N', Buffer.from('SNOTICE\0Mhi\0\0')))), { kind: 'forward' });
  assert.throws(() => remoteLoginStep('awaitingAuthRequest', frame(typed('R', Buffer.from([0, 0])))), /truncated/);
});
