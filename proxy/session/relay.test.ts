import { test } from 'node:test';
import { socketPair as pair } from '../../testkit/socket-pair.js';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { Relay } from './relay.js';
import type { RelayOptions, RelayStats } from './relay.js';
import { nullSessionObserver } from '../telemetry/observer.js';
import { silentLogger } from '../../auth/types.js';

/** client app ⇄ [clientSide | relay | upstreamSide] ⇄ upstream app */
async function setup(extra: Partial<RelayOptions> = {}) {
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
    ...extra,
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

/** A cancelUpstream fake that records when it ran and whether the upstream was still open then. */
function cancelSpy() {
  const calls: Array<{ atMs: number }> = [];
  return { calls, cancelUpstream: async () => void calls.push({ atMs: Date.now() }) };
}

test('client lost while the upstream stays busy: cancel after the grace period, then the upstream is closed', async () => {
  const spy = cancelSpy();
  const t = await setup({ cancelUpstream: spy.cancelUpstream, cancelGraceMs: 100 });
  // A busy PostgreSQL backend does not read: keep the upstream app from ending its side.
  t.upstreamApp.allowHalfOpen = true;
  const lostMs = Date.now();
  t.clientApp.destroy();
  await until(() => t.closes.length === 1);
  assert.equal(spy.calls.length, 1);
  assert.ok(spy.calls[0]!.atMs - lostMs >= 90, `cancel came ${spy.calls[0]!.atMs - lostMs} ms after the loss`);
  assert.equal(t.closes[0]!.endedBy, 'client');
  assert.ok(t.upstreamSide.destroyed);
  t.upstreamApp.destroy();
});

test('client reset (error) takes the same path: the upstream is ended, not aborted, and cancelled if it stays', async () => {
  const spy = cancelSpy();
  const t = await setup({ cancelUpstream: spy.cancelUpstream, cancelGraceMs: 100 });
  t.upstreamApp.allowHalfOpen = true;
  const gotEnd = new Promise<void>((r) => t.upstreamApp.once('end', () => r()));
  t.clientApp.resetAndDestroy();
  await gotEnd;
  assert.equal(spy.calls.length, 0, 'no cancel before the grace period');
  await until(() => t.closes.length === 1);
  assert.equal(spy.calls.length, 1);
  t.upstreamApp.destroy();
});

test('client lost and the upstream closes promptly (clean Terminate): no cancel is sent', async () => {
  const spy = cancelSpy();
  const t = await setup({ cancelUpstream: spy.cancelUpstream, cancelGraceMs: 150 });
  t.upstreamApp.resume(); // a live backend reads the Terminate and the EOF, then closes
  t.clientApp.end(Buffer.from([0x58, 0, 0, 0, 4]));
  await until(() => t.closes.length === 1);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(spy.calls.length, 0);
  assert.equal(t.closes[0]!.endedBy, 'client');
});

test('upstream closes first: no cancel, even though the client closes afterwards', async () => {
  const spy = cancelSpy();
  const t = await setup({ cancelUpstream: spy.cancelUpstream, cancelGraceMs: 50 });
  t.upstreamApp.destroy();
  await until(() => t.closes.length === 1);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(spy.calls.length, 0);
  assert.equal(t.closes[0]!.endedBy, 'upstream');
});

test('a failing cancel still closes the upstream and ends the relay once', async () => {
  const t = await setup({ cancelUpstream: () => Promise.reject(new Error('no route')), cancelGraceMs: 50 });
  t.upstreamApp.allowHalfOpen = true;
  t.clientApp.destroy();
  await until(() => t.closes.length === 1);
  assert.ok(t.upstreamSide.destroyed);
  t.upstreamApp.destroy();
});

test('client lost while the upstream is paused by backpressure: the upstream is drained to its EOF, no cancel', async () => {
  const spy = cancelSpy();
  const t = await setup({ cancelUpstream: spy.cancelUpstream, cancelGraceMs: 4000, lingerMs: 5000 });
  t.clientApp.pause();
  const chunk = Buffer.alloc(64 * 1024, 2);
  const total = 128 * chunk.length;
  for (let i = 0; i < 128; i++) t.upstreamApp.write(chunk);
  await until(() => t.upstreamSide.isPaused());
  t.clientApp.destroy();
  t.upstreamApp.end();
  await until(() => t.closes.length === 1);
  assert.equal(t.relay.upstreamToClientBytes, total, 'every byte the upstream sent was read after the client left');
  assert.equal(spy.calls.length, 0);
  assert.equal(t.closes[0]!.endedBy, 'client');
});

/** Everything a socket receives until it closes. */
function readToEnd(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.once('close', () => resolve(Buffer.concat(parts)));
  });
}

/** A typed message: Byte1 type, Int32 length, body. */
function msg(type: string, body: string | Buffer): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(b.length + 4, 1);
  return Buffer.concat([head, b]);
}

const farewell = msg('E', 'SFATAL\0C57P01\0\0');
const terminate = Buffer.from([0x58, 0, 0, 0, 4]);

test('closeWith at message boundaries: the client gets the farewell, the upstream a Terminate', async () => {
  const spy = cancelSpy();
  const { clientApp, upstreamApp, relay, closes } = await setup({ cancelUpstream: spy.cancelUpstream });
  const query = msg('Q', 'select 1\0');
  clientApp.write(query);
  await collect(upstreamApp, query.length);
  // A DataRow whose last bytes look like a ReadyForQuery must not matter: only whole messages count.
  const reply = Buffer.concat([msg('D', Buffer.from([0, 1, 0, 0, 0, 6, 0x5a, 0, 0, 0, 5, 0x49])), msg('Z', 'I')]);
  upstreamApp.write(reply);
  await collect(clientApp, reply.length);
  const clientGot = readToEnd(clientApp);
  const upstreamGot = readToEnd(upstreamApp);
  assert.deepEqual(relay.closeWith(farewell), { isFarewellSent: true, isUpstreamCancelled: false });
  assert.deepEqual(await clientGot, farewell);
  assert.deepEqual(await upstreamGot, terminate);
  await until(() => closes.length === 1);
  assert.equal(closes[0]?.endedBy, 'local');
  assert.equal(spy.calls.length, 0, 'an idle upstream is not cancelled');
});

test('closeWith while a query runs: the upstream is cancelled, and the relay ends only after the cancel is done', async () => {
  let finishCancel!: () => void;
  const cancels: number[] = [];
  const cancelUpstream = (): Promise<void> =>
    new Promise<void>((resolve) => {
      cancels.push(Date.now());
      finishCancel = resolve;
    });
  const { clientApp, upstreamApp, relay, closes } = await setup({ cancelUpstream });
  const query = msg('Q', 'select pg_sleep(60)\0');
  clientApp.write(query);
  await collect(upstreamApp, query.length);
  // Only a RowDescription so far: the ReadyForQuery is still owed.
  const partial = msg('T', Buffer.alloc(20));
  upstreamApp.write(partial);
  await collect(clientApp, partial.length);
  assert.equal(relay.isUpstreamBusy, true);
  const upstreamGot = readToEnd(upstreamApp);
  assert.deepEqual(relay.closeWith(farewell), { isFarewellSent: true, isUpstreamCancelled: true });
  assert.equal(cancels.length, 1);
  assert.deepEqual(await upstreamGot, terminate, 'the Terminate still follows, read once the cancelled query ends');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(closes.length, 0, 'both sockets are closed but the cancel is still in flight');
  finishCancel();
  await until(() => closes.length === 1);
});

test('isUpstreamBusy counts ReadyForQuery against Query/Sync/FunctionCall, so pipelined batches stay busy until the last answer', async () => {
  const spy = cancelSpy();
  const { clientApp, upstreamApp, relay, closes } = await setup({ cancelUpstream: spy.cancelUpstream });
  assert.equal(relay.isUpstreamBusy, false);
  const batch = Buffer.concat([msg('P', '\0select 1\0\0\0'), msg('B', Buffer.alloc(10)), msg('E', Buffer.alloc(5)), msg('S', '')]);
  const twoBatches = Buffer.concat([batch, batch]);
  clientApp.write(twoBatches);
  await collect(upstreamApp, twoBatches.length);
  const firstAnswer = Buffer.concat([msg('1', ''), msg('2', ''), msg('C', 'SELECT 1\0'), msg('Z', 'I')]);
  upstreamApp.write(firstAnswer);
  await collect(clientApp, firstAnswer.length);
  assert.equal(relay.isUpstreamBusy, true, 'the second Sync is still unanswered');
  upstreamApp.write(firstAnswer);
  await collect(clientApp, firstAnswer.length);
  assert.equal(relay.isUpstreamBusy, false);
  assert.deepEqual(relay.closeWith(farewell), { isFarewellSent: true, isUpstreamCancelled: false });
  await until(() => closes.length === 1);
  assert.equal(spy.calls.length, 0);
});

test('closeWith in the middle of a message to the client writes nothing more to it', async () => {
  const { clientApp, upstreamApp, relay, closes } = await setup();
  const partialRow = msg('D', Buffer.alloc(100)).subarray(0, 40);
  upstreamApp.write(partialRow);
  const clientGot = readToEnd(clientApp);
  await until(() => relay.upstreamToClientBytes === partialRow.length);
  assert.equal(relay.closeWith(farewell).isFarewellSent, false);
  assert.equal((await clientGot).length, partialRow.length, 'nothing may be injected mid-message');
  await until(() => closes.length === 1);
});

test('closeWith with a partial client message upstream closes the upstream without a Terminate', async () => {
  const { clientApp, upstreamApp, relay } = await setup();
  const partialQuery = msg('Q', 'select pg_sleep(1)\0').subarray(0, 9);
  const upstreamGot = readToEnd(upstreamApp);
  clientApp.write(partialQuery);
  await until(() => relay.clientToUpstreamBytes === partialQuery.length);
  assert.equal(relay.isUpstreamBusy, true, 'half a message sent');
  assert.equal(relay.closeWith(farewell).isFarewellSent, true, 'the client side is at a boundary');
  assert.deepEqual(await upstreamGot, partialQuery, 'no Terminate spliced into the partial message');
});

test('noteForwarded: a partial login leftover keeps the client side off a boundary', async () => {
  const { clientApp, relay } = await setup();
  relay.noteForwarded('toClient', msg('N', 'notice').subarray(0, 3));
  const clientGot = readToEnd(clientApp);
  assert.equal(relay.closeWith(farewell).isFarewellSent, false);
  assert.equal((await clientGot).length, 0);
});

test('whenIdle: called at once when idle, else only after the last ReadyForQuery has been forwarded to the client', async () => {
  const { clientApp, upstreamApp, relay, closes } = await setup();
  let idleNow = 0;
  relay.whenIdle(() => idleNow++);
  assert.equal(idleNow, 1, 'no query running: at once');
  const query = msg('Q', 'select pg_sleep(5)\0');
  clientApp.write(query);
  await collect(upstreamApp, query.length);
  const seenByClient: number[] = [];
  let received = 0;
  clientApp.on('data', (c: Buffer) => (received += c.length));
  relay.whenIdle(() => seenByClient.push(received));
  const rows = Buffer.concat([msg('T', Buffer.alloc(20)), msg('D', Buffer.alloc(30))]);
  upstreamApp.write(rows);
  await until(() => received === rows.length);
  assert.equal(seenByClient.length, 0, 'still busy: no ReadyForQuery yet');
  const end = Buffer.concat([msg('C', 'SELECT 1\0'), msg('Z', 'I')]);
  upstreamApp.write(end);
  await until(() => seenByClient.length === 1);
  await until(() => received === rows.length + end.length);
  // The farewell written from the callback would follow the ReadyForQuery in the socket's queue.
  assert.equal(relay.isUpstreamBusy, false);
  clientApp.destroy();
  upstreamApp.destroy();
  await until(() => closes.length === 1);
});

test('whenIdle: the returned function stops waiting, and closeWith drops a waiter', async () => {
  const spy = cancelSpy();
  const { clientApp, upstreamApp, relay, closes } = await setup({ cancelUpstream: spy.cancelUpstream });
  const query = msg('Q', 'select 1\0');
  clientApp.write(Buffer.concat([query, query]));
  await collect(upstreamApp, query.length * 2);
  let calls = 0;
  const stop = relay.whenIdle(() => calls++);
  stop();
  const answer = Buffer.concat([msg('C', 'SELECT 1\0'), msg('Z', 'I')]);
  upstreamApp.write(answer);
  await collect(clientApp, answer.length);
  relay.whenIdle(() => calls++);
  relay.closeWith(farewell);
  upstreamApp.write(answer);
  await until(() => closes.length === 1 || upstreamApp.destroyed);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls, 0);
  upstreamApp.destroy();
  await until(() => closes.length === 1);
  assert.equal(relay.whenIdle(() => calls++)(), undefined);
  assert.equal(calls, 0, 'never called once the relay has closed');
});
