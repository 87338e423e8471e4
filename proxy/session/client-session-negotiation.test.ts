import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, gssEncRequest, message, passwordPacket, sslRequest, startupPacket, testPassword } from '../../testkit/session-fakes.js';
import { alice, expectFatal, harness, readUntilZ, tlsClient } from '../../testkit/session-harness.js';

test('plaintext StartupMessage → 28000 "SSL connection is required", no R 3', async () => {
  const h = await harness();
  try {
    const c = await RawClient.connect(h.port);
    c.write(startupPacket(alice));
    const f = await expectFatal(c, '28000');
    assert.equal(f.M, 'SSL connection is required');
    assert.equal(c.pending.length, 0);
    assert.equal(h.auth.requests.length, 0);
  } finally {
    await h.close();
  }
});

test('SSLRequest with pipelined bytes → 08P01 in plaintext, no S, no handshake', async () => {
  const h = await harness();
  try {
    const c = await RawClient.connect(h.port);
    c.write(Buffer.concat([sslRequest, message('Q', Buffer.from('select 1\0'))]));
    const f = await expectFatal(c, '08P01');
    assert.equal(f.M, 'received unencrypted data after SSL request');
  } finally {
    await h.close();
  }
});

test('GSSENCRequest → N, then SSLRequest → S and a full login', async () => {
  const h = await harness();
  try {
    const c = await RawClient.connect(h.port);
    c.write(gssEncRequest);
    assert.equal((await c.readBytes(1)).toString(), 'N');
    c.write(sslRequest);
    assert.equal((await c.readBytes(1)).toString(), 'S');
    await c.startTls();
    c.write(startupPacket(alice));
    await c.readMessage();
    c.write(passwordPacket(testPassword));
    assert.equal((await readUntilZ(c)).at(-1)!.type, 'Z');
    c.destroy();
  } finally {
    await h.close();
  }
});

test('two GSSENCRequests → 08P01; SSLRequest or GSSENCRequest inside TLS → 08P01', async () => {
  const h = await harness();
  try {
    const c = await RawClient.connect(h.port);
    c.write(gssEncRequest);
    assert.equal((await c.readBytes(1)).toString(), 'N');
    c.write(gssEncRequest);
    await expectFatal(c, '08P01');
    const t1 = await tlsClient(h.port);
    t1.write(sslRequest);
    await expectFatal(t1, '08P01');
    const t2 = await tlsClient(h.port);
    t2.write(gssEncRequest);
    await expectFatal(t2, '08P01');
  } finally {
    await h.close();
  }
});

test('direct TLS with ALPN postgresql logs in; without ALPN it is closed', async () => {
  const h = await harness();
  try {
    const c = await RawClient.connectDirectTls(h.port, ['postgresql']);
    c.write(startupPacket(alice));
    assert.equal((await c.readMessage()).body.readInt32BE(0), 3);
    c.write(passwordPacket(testPassword));
    assert.equal((await readUntilZ(c)).at(-1)!.type, 'Z');
    c.destroy();
    const bare = await RawClient.connectDirectTls(h.port, undefined);
    bare.write(startupPacket(alice));
    assert.equal((await bare.waitClose()).length, 0);
    await assert.rejects(RawClient.connectDirectTls(h.port, ['http/1.1']));
  } finally {
    await h.close();
  }
});

test('protocol negotiation: 3.2 → v(n=0) then R 3; 3.9999 grease → v listing _pq_ keys; _pq_.compression in 3.0 → no v', async () => {
  const h = await harness();
  try {
    const c32 = await tlsClient(h.port);
    c32.write(startupPacket(alice, (3 << 16) | 2));
    const v = await c32.readMessage();
    assert.equal(v.type, 'v');
    assert.equal(v.body.toString('hex'), '0003000000000000');
    assert.equal((await c32.readMessage()).type, 'R');
    c32.destroy();

    const grease = await tlsClient(h.port);
    grease.write(startupPacket([...alice, ['_pq_.test_grease', 'x'], ['_pq_.other', 'y']], 0x0003270f));
    const vg = await grease.readMessage();
    assert.equal(vg.type, 'v');
    assert.equal(vg.body.readInt32BE(0), 196608);
    assert.equal(vg.body.readInt32BE(4), 2);
    assert.equal(vg.body.subarray(8).toString('latin1'), '_pq_.test_grease\0_pq_.other\0');
    assert.equal((await grease.readMessage()).type, 'R');
    grease.write(passwordPacket(testPassword));
    const msgs = await readUntilZ(grease);
    assert.equal(msgs.find((m) => m.type === 'K')!.body.length, 8); // 4-byte key under 3.0 rules
    assert.deepEqual(h.upstream.calls[0]!.parameters, [['application_name', 'test']]);
    grease.destroy();

    const comp = await tlsClient(h.port);
    comp.write(startupPacket([...alice, ['_pq_.compression', 'lz4']]));
    const first = await comp.readMessage();
    assert.equal(first.type, 'R');
    comp.destroy();
  } finally {
    await h.close();
  }
});

test('startup rejections: protocol 2 and 4 → 0A000, replication → 0A000, no user → 28000, duplicate user → 08P01', async () => {
  const h = await harness();
  try {
    const p4 = await tlsClient(h.port);
    p4.write(startupPacket(alice, 4 << 16));
    assert.equal((await expectFatal(p4, '0A000')).M, 'unsupported frontend protocol 4.0: server supports 3.0 to 3.0');
    const p2 = await tlsClient(h.port);
    const v2 = Buffer.alloc(296);
    v2.writeInt32BE(296, 0);
    v2.writeInt32BE(2 << 16, 4);
    p2.write(v2);
    await expectFatal(p2, '0A000');
    const rep = await tlsClient(h.port);
    rep.write(startupPacket([...alice, ['replication', 'database']]));
    await expectFatal(rep, '0A000');
    const nouser = await tlsClient(h.port);
    nouser.write(startupPacket([['database', 'dev']]));
    assert.equal((await expectFatal(nouser, '28000')).M, 'no PostgreSQL user name specified in startup packet');
    const dup = await tlsClient(h.port);
    dup.write(startupPacket([['user', 'a'], ['user', 'admin']]));
    await expectFatal(dup, '08P01');
  } finally {
    await h.close();
  }
});

test('oversize startup and password are refused from the header without waiting for the body', async () => {
  const h = await harness();
  try {
    const big = await tlsClient(h.port);
    const head = Buffer.alloc(8);
    head.writeInt32BE(10_001, 0);
    head.writeInt32BE(196608, 4);
    big.write(head);
    assert.equal((await expectFatal(big, '08P01')).M, 'invalid startup packet length');
    const small = await tlsClient(h.port);
    small.write(Buffer.from([0, 0, 0, 7, 0, 3, 0, 0]));
    await expectFatal(small, '08P01');
    const pw = await tlsClient(h.port);
    pw.write(startupPacket(alice));
    await pw.readMessage();
    const ph = Buffer.alloc(5);
    ph[0] = 0x70;
    ph.writeInt32BE(4 + 8193 + 1, 1);
    pw.write(ph);
    await expectFatal(pw, '08P01');
    assert.equal(h.auth.requests.length, 0);
  } finally {
    await h.close();
  }
});
