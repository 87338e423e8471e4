import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { Logger } from '../../auth/types.js';
import { afterLogin, authOk, fakeRsproxy } from '../../testkit/fake-rsproxy.js';
import { errorFields, startupPacket, WireReader } from '../../testkit/raw-wire.js';
import { sessionLimits } from '../config/limits.js';
import { startTunnel, TunnelListenError } from './run-tunnel.js';
import type { TunnelHandle, TunnelOptions } from './run-tunnel.js';

/** A record of one log line with the bindings of the child logger that wrote it. */
interface BoundLine {
  bindings: Record<string, unknown>;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function bindingLogger(lines: BoundLine[], bindings: Record<string, unknown> = {}): Logger {
  const at = (obj: object, msg?: string): void => void lines.push({ bindings, obj: obj as Record<string, unknown>, msg });
  return { debug: at, info: at, warn: at, error: at, child: (b) => bindingLogger(lines, { ...bindings, ...b }) };
}

const handles: TunnelHandle[] = [];
after(async () => {
  for (const h of handles) await h.close();
});

async function start(opts: Partial<TunnelOptions> & Pick<TunnelOptions, 'dial' | 'logger'>, token: string): Promise<TunnelHandle> {
  const h = await startTunnel({
    listen: { kind: 'tcp', host: '127.0.0.1', port: 0 },
    remote: { host: 'proxy.example.com', port: 5439, tlsMode: 'verify-full' },
    tokens: { token: async () => ({ token, isReused: false }) },
    ...opts,
  });
  handles.push(h);
  return h;
}

async function login(port: number, user: string): Promise<{ socket: net.Socket; reader: WireReader }> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  const reader = new WireReader(socket);
  socket.write(startupPacket([['user', user]]));
  assert.deepEqual(await reader.bytes(authOk.length + afterLogin.length), Buffer.concat([authOk, afterLogin]));
  return { socket, reader };
}

test('two tunnels in one process: each logs in to its own proxy with its own token, and closing one leaves the other serving', async () => {
  const [remoteA, remoteB] = [await fakeRsproxy('rsproxy'), await fakeRsproxy('rsproxy')];
  const lines: BoundLine[] = [];
  const a = await start({ dial: remoteA.dial, logger: bindingLogger(lines, { tunnel: 'a' }), overrides: { user: 'alice' } }, 'token-a');
  const b = await start({ dial: remoteB.dial, logger: bindingLogger(lines, { tunnel: 'b' }), overrides: { user: 'bob' } }, 'token-b');
  assert.notEqual(a.port, b.port);
  assert.equal(a.address, `127.0.0.1:${a.port}`);
  assert.deepEqual(a.listen, { kind: 'tcp', host: '127.0.0.1', port: 0 });

  const ca = await login(a.port, 'x');
  const cb = await login(b.port, 'y');
  assert.deepEqual(remoteA.passwords, ['token-a']);
  assert.deepEqual(remoteB.passwords, ['token-b']);
  assert.deepEqual(remoteA.startups.map((s) => s.parameters[0]), [['user', 'alice']]);
  assert.deepEqual(remoteB.startups.map((s) => s.parameters[0]), [['user', 'bob']]);
  assert.equal(a.sessionCount, 1);

  await a.close();
  await ca.reader.closed;
  assert.equal(a.sessionCount, 0);
  await assert.rejects(login(a.port, 'x'), 'a closed tunnel no longer listens');
  const again = await login(b.port, 'y');
  assert.equal(b.sessionCount, 2);
  cb.socket.destroy();
  again.socket.destroy();
  remoteA.close();
  remoteB.close();

  // Every session line carries the proxy's connection key, under its own tunnel's bindings.
  const connected = lines.filter((l) => l.obj['event'] === 'connected');
  assert.equal(connected.length, 3);
  for (const l of connected) assert.equal(typeof l.bindings['connectionId'], 'string', JSON.stringify(l));
  assert.deepEqual(connected.map((l) => l.bindings['tunnel']).sort(), ['a', 'b', 'b']);
  assert.ok(lines.every((l) => !('connection' in l.bindings)), 'no second log key');
});

test("pipelined bytes before login: the tunnel holds the proxy's 64 KiB and forwards them after login; one byte more is FATAL 08P01", async () => {
  const remote = await fakeRsproxy('rsproxy');
  let release: () => void = () => {};
  const minted = new Promise<void>((resolve) => (release = resolve));
  const tokens = { token: async () => (await minted, { token: 't', isReused: false }) };
  const h = await start({ dial: remote.dial, logger: bindingLogger([]), tokens }, 'unused');
  const cap = sessionLimits.maxHeldClientBytes;
  const connect = async (): Promise<{ socket: net.Socket; reader: WireReader }> => {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: h.port }, () => resolve(s));
      s.once('error', reject);
    });
    return { socket, reader: new WireReader(socket) };
  };

  const over = await connect();
  over.socket.write(Buffer.concat([startupPacket([['user', 'alice']]), Buffer.alloc(cap + 1, 0x51)]));
  const fatal = await over.reader.next();
  assert.equal(fatal.type, 'E');
  assert.equal(errorFields(fatal.body).get('C'), '08P01');
  assert.equal(errorFields(fatal.body).get('M'), 'too much data sent before authentication completed');
  await over.reader.closed;

  const atCap = await connect();
  const pipelined = Buffer.alloc(cap, 0x51);
  atCap.socket.write(Buffer.concat([startupPacket([['user', 'alice']]), pipelined]));
  await new Promise((r) => setTimeout(r, 50));
  release();
  assert.deepEqual(await atCap.reader.bytes(authOk.length + afterLogin.length), Buffer.concat([authOk, afterLogin]));
  assert.deepEqual(await atCap.reader.bytes(cap), pipelined, 'the held bytes reach the proxy (echoed back) after the login');
  assert.deepEqual(remote.passwords, ['t']);
  atCap.socket.destroy();
  remote.close();
});

test('a taken address rejects with TunnelListenError naming it', async () => {
  const remote = await fakeRsproxy('rsproxy');
  const first = await start({ dial: remote.dial, logger: bindingLogger([]) }, 't');
  await assert.rejects(
    startTunnel({
      listen: { kind: 'tcp', host: '127.0.0.1', port: first.port },
      remote: { host: 'proxy.example.com', port: 5439, tlsMode: 'verify-full' },
      tokens: { token: async () => ({ token: 't', isReused: false }) },
      logger: bindingLogger([]),
      dial: remote.dial,
    }),
    (err: unknown) => err instanceof TunnelListenError && err.message.startsWith(`cannot listen on 127.0.0.1:${first.port}: `) && err.message.includes('EADDRINUSE'),
  );
  remote.close();
});

test('without signing or tokens, startTunnel refuses to start', async () => {
  await assert.rejects(
    startTunnel({ listen: { kind: 'tcp', host: '127.0.0.1', port: 0 }, remote: { host: 'h', port: 1, tlsMode: 'verify-full' }, logger: bindingLogger([]) }),
    /needs signing or tokens/,
  );
});

test('each dial to the proxy asks for TCP keepalive: 60 s by default, tcpKeepAliveSeconds when given', async () => {
  const remote = await fakeRsproxy('rsproxy');
  const seen: Array<number | undefined> = [];
  const dial: NonNullable<TunnelOptions['dial']> = (target, opts) => {
    seen.push(opts.keepAliveSeconds);
    return remote.dial(target, opts);
  };
  const byDefault = await start({ dial, logger: bindingLogger([]) }, 't');
  (await login(byDefault.port, 'alice')).socket.destroy();
  const tuned = await start({ dial, logger: bindingLogger([]), tcpKeepAliveSeconds: 25 }, 't');
  (await login(tuned.port, 'alice')).socket.destroy();
  assert.deepEqual(seen, [60, 25]);
  remote.close();
});
