import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { startLoginDelayRelay } from './login-delay.js';

async function echoServer(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer((s) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes `data` and resolves with the time until all of it has come back. */
function roundTrip(socket: net.Socket, data: Buffer): Promise<{ ms: number; echoed: Buffer }> {
  const started = performance.now();
  const parts: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer): void => {
      parts.push(c);
      got += c.length;
      if (got < data.length) return;
      socket.removeListener('data', onData);
      resolve({ ms: performance.now() - started, echoed: Buffer.concat(parts) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(data);
  });
}

test('a new connection waits delayMs for its first answer; later bytes pass at once and intact', async () => {
  const echo = await echoServer();
  const relay = await startLoginDelayRelay({ upstreamHost: '127.0.0.1', upstreamPort: echo.port, delayMs: 300 });
  const client = net.connect(relay.port, relay.host);
  try {
    await once(client, 'connect');
    const first = await roundTrip(client, Buffer.from('hello'));
    assert.ok(first.ms >= 290, `first answer after ${first.ms} ms`);
    assert.equal(first.echoed.toString(), 'hello');
    const payload = randomBytes(1 << 20);
    const second = await roundTrip(client, payload);
    assert.ok(second.ms < 200, `a later round trip took ${second.ms} ms`);
    assert.deepEqual(second.echoed, payload);
    assert.equal(relay.acceptedConnections, 1);
    assert.equal(echo.connections(), 1);
  } finally {
    client.destroy();
    await relay.close();
    await echo.close();
  }
});

test('each new connection pays the delay; the upstream is dialed only after it', async () => {
  const echo = await echoServer();
  const relay = await startLoginDelayRelay({ upstreamHost: '127.0.0.1', upstreamPort: echo.port, delayMs: 200 });
  try {
    for (let i = 0; i < 2; i++) {
      const client = net.connect(relay.port, relay.host);
      await once(client, 'connect');
      const connectedAt = performance.now();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(echo.connections(), i, 'not dialed during the delay');
      await roundTrip(client, Buffer.from('x'));
      // From connect, not from the wait's end: a busy machine may fire the 100 ms timer late.
      const sinceConnectMs = performance.now() - connectedAt;
      assert.ok(sinceConnectMs >= 180, `connection ${i}: answered ${sinceConnectMs} ms after connect`);
      client.destroy();
    }
    assert.equal(relay.acceptedConnections, 2);
  } finally {
    await relay.close();
    await echo.close();
  }
});

test('an unreachable upstream closes the client; close() ends relayed connections and stops listening', async () => {
  const dead = await echoServer();
  const deadPort = dead.port;
  await dead.close();
  const relay = await startLoginDelayRelay({ upstreamHost: '127.0.0.1', upstreamPort: deadPort, delayMs: 10 });
  const client = net.connect(relay.port, relay.host);
  client.on('error', () => {});
  await once(client, 'close');
  const echo = await echoServer();
  const relay2 = await startLoginDelayRelay({ upstreamHost: '127.0.0.1', upstreamPort: echo.port, delayMs: 10 });
  const c2 = net.connect(relay2.port, relay2.host);
  c2.on('error', () => {});
  await once(c2, 'connect');
  await roundTrip(c2, Buffer.from('y'));
  const closed = once(c2, 'close');
  await relay2.close();
  await closed;
  await relay.close();
  await echo.close();
  const refused = net.connect(relay2.port, relay2.host);
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  assert.equal(err.code, 'ECONNREFUSED');
});
