import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { getTestPki } from '../../testkit/certs.js';
import { parseSsDuration, readKeepAliveTimer, requireSs } from '../../testkit/socket-keepalive.js';
import { applyKeepAlive } from './keepalive.js';

async function loopbackPair(): Promise<{ client: net.Socket; close(): void }> {
  const peers: net.Socket[] = [];
  const server = net.createServer((s) => peers.push(s.on('error', () => {})));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  return {
    client,
    close: () => {
      client.destroy();
      for (const p of peers) p.destroy();
      server.close();
    },
  };
}

test('ss durations parse to milliseconds', () => {
  assert.equal(parseSsDuration('59sec'), 59_000);
  assert.equal(parseSsDuration('1min59sec'), 119_000);
  assert.equal(parseSsDuration('1h2min'), 3_720_000);
  assert.equal(parseSsDuration('200ms'), 200);
  assert.throws(() => parseSsDuration('soon'));
});

test('applyKeepAlive turns the kernel keepalive timer on with the given idle time, and 0 turns it off', async (t) => {
  if (!requireSs(t)) return;
  const { client, close } = await loopbackPair();
  try {
    assert.deepEqual(readKeepAliveTimer(client.localPort!), { isOn: false });
    applyKeepAlive(client, 60);
    const on = readKeepAliveTimer(client.localPort!);
    assert.equal(on.isOn, true);
    assert.ok(on.remainingMs! > 50_000 && on.remainingMs! <= 60_000, `remaining ${on.remainingMs} ms`);
    applyKeepAlive(client, 7);
    const short = readKeepAliveTimer(client.localPort!);
    assert.ok(short.remainingMs! <= 7_000, `remaining ${short.remainingMs} ms`);
    applyKeepAlive(client, 0);
    assert.deepEqual(readKeepAliveTimer(client.localPort!), { isOn: false });
  } finally {
    close();
  }
});

test('on a TLS socket wrapping a TCP socket (as the upstream dial makes it), the setting reaches the TCP socket', async (t) => {
  if (!requireSs(t)) return;
  const pki = await getTestPki();
  const server = tls.createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem }, (s) => s.on('error', () => {}));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const raw = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(raw, 'connect');
  const secure = tls.connect({ socket: raw, ca: pki.caPem, servername: 'localhost' });
  try {
    await once(secure, 'secureConnect');
    applyKeepAlive(secure, 30);
    const timer = readKeepAliveTimer(raw.localPort!);
    assert.equal(timer.isOn, true);
    assert.ok(timer.remainingMs! <= 30_000);
  } finally {
    secure.destroy();
    raw.destroy();
    server.close();
  }
});
