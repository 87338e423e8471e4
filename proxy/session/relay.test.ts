import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { Relay } from './relay.js';
import type { RelayStats } from './relay.js';
import { nullSessionObserver } from './observer.js';
import { silentLogger } from '../../auth/types.js';

/** A connected TCP pair on loopback: [near, far]. */
async function pair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const near = net.connect(port, '127.0.0.1');
  const far = await accepted;
  await new Promise<void>((r) => (near.connecting ? near.once('connect', () => r()) : r()));
  server.close();
  return [near, far];
}

/** client app ⇄ [clientSide | relay | upstreamSide] ⇄ upstream app */
async function setup() {
  const [clientApp, clientSide] = await pair();
  const [upstreamSide, upstreamApp] = await pair();
  const closes: RelayStats[] = [];
  const bytes = { c2u: 0, u2c: 0 };
  const relay = new Relay({
    client: clientSide,
    upstream: upstreamSide,
    observer: { ...nullSessionObserver, bytes: (d, n) => (d === 'client_to_upstream' ? (bytes.c2u += n) : (bytes.u2c += n)) },
    logger: silentLogger,
    onClose: (s) => closes.push(s),
    lingerMs: 500,
  });
  relay.start();
  return { clientApp, upstreamApp, clientSide, upstreamSide, relay, closes, bytes };
}

function collect(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let got = 0;
    const on = (c: Buffer): void => {
      parts.push(c);
      got += c.length;
      if (got >= n) {
        s.removeListener('data', on);
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', on);
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function until(pred: () => boolean): Promise<void> {
  const end = Date.now() + 3000;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('8 MiB each way arrives intact and is counted exactly', async () => {
  const t = await setup();
  const up = randomBytes(8 * 1024 * 1024);
  const down = randomBytes(8 * 1024 * 1024);
  const gotUp = collect(t.upstreamApp, up.length);
  const gotDown = collect(t.clientApp, down.length);
  t.clientApp.write(up);
  t.upstreamApp.write(down);
  assert.equal(sha(await gotUp), sha(up));
  assert.equal(sha(await gotDown), sha(down));
  assert.equal(t.relay.clientToUpstreamBytes, up.length);
  assert.equal(t.relay.upstreamToClientBytes, down.length);
  t.clientApp.destroy();
  await until(() => t.closes.length === 1);
  assert.equal(t.bytes.c2u, up.length);
  assert.equal(t.bytes.u2c, down.length);
  t.upstreamApp.destroy();
});

test('backpressure: a consumer that stops reading pauses the producer side', async () => {
  const t = await setup();
  t.upstreamApp.pause();
  const chunk = Buffer.alloc(64 * 1024, 1);
  // 32 MiB is far more than the kernel socket buffers on both hops hold.
  for (let i = 0; i < 512; i++) t.clientApp.write(chunk);
  await until(() => t.clientSide.isPaused());
  assert.equal(t.clientSide.isPaused(), true);
  assert.ok(t.upstreamSide.writableLength < 16 * 1024 * 1024, `relay buffered ${t.upstreamSide.writableLength} bytes`);
  t.upstreamApp.resume();
  await until(() => !t.clientSide.isPaused());
  t.clientApp.destroy();
  t.upstreamApp.destroy();
  await until(() => t.closes.length === 1);
});

test('client close tears down the upstream, exactly once', async () => {
  const t = await setup();
  const upClosed = new Promise<void>((r) => t.upstreamApp.once('end', () => r()));
  t.clientApp.end();
  await upClosed;
  t.upstreamApp.end();
  await until(() => t.closes.length === 1);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(t.closes.length, 1);
  assert.equal(t.closes[0]!.endedBy, 'client');
});

test('upstream close flushes what it sent, then closes the client, exactly once', async () => {
  const t = await setup();
  const got = collect(t.clientApp, 5);
  t.upstreamApp.end(Buffer.from('final'));
  assert.equal((await got).toString(), 'final');
  await new Promise<void>((r) => t.clientApp.once('end', () => r()));
  t.clientApp.end();
  await until(() => t.closes.length === 1);
  assert.equal(t.closes[0]!.endedBy, 'upstream');
});

test('an abrupt reset and close() both lead to exactly one onClose', async () => {
  const t = await setup();
  t.upstreamApp.resetAndDestroy();
  await until(() => t.closes.length === 1);
  assert.ok(t.clientSide.destroyed);
  const u = await setup();
  u.relay.close();
  u.relay.close();
  await until(() => u.closes.length === 1);
  assert.equal(u.closes[0]!.endedBy, 'local');
  u.clientApp.destroy();
  u.upstreamApp.destroy();
});
