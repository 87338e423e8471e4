import { test } from 'node:test';
import { socketPair as pair } from '../../testkit/socket-pair.js';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { Relay } from './relay.js';
import type { RelayStats } from './relay.js';
import { nullSessionObserver } from '../telemetry/observer.js';
import { silentLogger } from '../../auth/types.js';
import { CheckinTracker } from '../upstream/checkin-tracker.js';
import type { CheckinVerdict } from '../upstream/checkin-tracker.js';

const msg = (type: string, body: Buffer | string = Buffer.alloc(0)): Buffer => {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const h = Buffer.alloc(5);
  h.write(type, 0, 'latin1');
  h.writeInt32BE(b.length + 4, 1);
  return Buffer.concat([h, b]);
};
const query = msg('Q', 'SELECT 1\0');
const terminate = msg('X');
const ready = (status: string): Buffer => msg('Z', status);

async function setup() {
  const [clientApp, clientSide] = await pair();
  const [upstreamSide, upstreamApp] = await pair();
  const tracker = new CheckinTracker();
  const verdicts: CheckinVerdict[] = [];
  const handedOver: net.Socket[] = [];
  const closes: RelayStats[] = [];
  const relay = new Relay({
    client: clientSide,
    upstream: upstreamSide,
    observer: nullSessionObserver,
    logger: silentLogger,
    onClose: (s) => closes.push(s),
    lingerMs: 500,
    checkin: {
      tracker,
      handOver: (u) => {
        const v = tracker.verdict();
        verdicts.push(v);
        if (!v.keep) return false;
        handedOver.push(u);
        return true;
      },
    },
  });
  relay.start();
  const upstreamGot: Buffer[] = [];
  let upstreamEnded = false;
  upstreamApp.on('data', (c: Buffer) => upstreamGot.push(c));
  upstreamApp.on('end', () => (upstreamEnded = true));
  return { clientApp, upstreamApp, upstreamSide, relay, verdicts, handedOver, closes, upstreamGot: () => Buffer.concat(upstreamGot), isUpstreamEnded: () => upstreamEnded };
}

async function until(pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a clean departure: the Terminate is kept from the upstream, which is handed over open and without the relay\'s listeners', async () => {
  const s = await setup();
  s.clientApp.write(query);
  await until(() => s.upstreamGot().length === query.length);
  s.upstreamApp.write(Buffer.concat([msg('C', 'SELECT 1\0'), ready('I')]));
  await new Promise((r) => setTimeout(r, 50));
  s.clientApp.end(terminate);
  await until(() => s.closes.length === 1);
  assert.equal(s.handedOver[0], s.upstreamSide);
  assert.deepEqual(s.verdicts, [{ keep: true, openStatements: [] }]);
  assert.deepEqual(s.upstreamGot(), query, 'no Terminate upstream');
  assert.equal(s.relay.isHandedOver, true);
  assert.equal(s.closes[0]?.isClientTerminate, true);
  assert.equal(s.upstreamSide.listenerCount('data'), 0, 'the relay let go of the upstream');
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(s.upstreamSide.destroyed, false, 'the linger timer does not destroy a handed-over upstream');
  assert.equal(s.isUpstreamEnded(), false);
  s.upstreamSide.destroy();
  s.upstreamApp.destroy();
});

test('an unclean departure (in a transaction): not handed over; the upstream gets the kept Terminate and is ended', async () => {
  const s = await setup();
  s.clientApp.write(query);
  await until(() => s.upstreamGot().length === query.length);
  s.upstreamApp.write(Buffer.concat([msg('C', 'BEGIN\0'), ready('T')]));
  await new Promise((r) => setTimeout(r, 50));
  s.clientApp.end(terminate);
  await until(() => s.isUpstreamEnded());
  assert.deepEqual(s.verdicts, [{ keep: false, reason: 'in_transaction' }]);
  assert.deepEqual(s.handedOver, []);
  assert.deepEqual(s.upstreamGot(), Buffer.concat([query, terminate]));
  s.upstreamApp.end();
  await until(() => s.closes.length === 1);
  assert.equal(s.relay.isHandedOver, false);
});
