import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { be, fe } from '../../testkit/query-wire.js';
import { probeSession, resetSession } from './reset-exchange.js';
import { resetSql } from './reset.js';

/** A loopback pair: `answer` sees what the client side sent and writes the scripted reply chunks. */
async function pair(answer: (received: Buffer, server: net.Socket) => void): Promise<{ client: net.Socket; received: () => Buffer; close(): void }> {
  let got = Buffer.alloc(0);
  let serverSide: net.Socket | undefined;
  const server = net.createServer((s) => {
    serverSide = s;
    s.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      answer(got, s);
    });
    s.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  client.pause();
  return {
    client,
    received: () => got,
    close: () => {
      client.destroy();
      serverSide?.destroy();
      server.close();
    },
  };
}

const user = 'alice';
const goodReply = Buffer.concat([
  be.closeComplete(),
  be.readyForQuery('I'),
  be.commandComplete('RESET'),
  be.rowDescription(['session_user', 'current_user', 'current_schemas']),
  be.dataRow([user, user, '{pg_catalog,public}']),
  be.commandComplete('SELECT 1'),
  be.readyForQuery('I'),
]);

test('resetSession sends the request once and reads a reply split byte by byte', async () => {
  const request = Buffer.concat([fe.close('S', 's1'), fe.sync(), fe.query(resetSql)]);
  const p = await pair((got, s) => {
    if (got.length < request.length) return;
    for (let i = 0; i < goodReply.length; i++) s.write(goodReply.subarray(i, i + 1));
  });
  try {
    assert.equal(await resetSession(p.client, [Buffer.from('s1')], user, 2000), 'ok');
    assert.deepEqual(p.received(), request);
    assert.equal(p.client.listenerCount('data'), 0);
    assert.equal(p.client.isPaused(), true);
  } finally {
    p.close();
  }
});

test('resetSession: a silent upstream is reset_timeout, a closing one upstream_closed, trailing bytes reset_error', async () => {
  const silent = await pair(() => {});
  try {
    assert.equal(await resetSession(silent.client, [], user, 50), 'reset_timeout');
  } finally {
    silent.close();
  }
  const closing = await pair((_got, s) => s.destroy());
  try {
    assert.equal(await resetSession(closing.client, [], user, 2000), 'upstream_closed');
  } finally {
    closing.close();
  }
  const chatty = await pair((_got, s) => s.write(Buffer.concat([goodReply.subarray(11), be.notice()])));
  try {
    assert.equal(await resetSession(chatty.client, [], user, 2000), 'reset_error');
  } finally {
    chatty.close();
  }
  const wrongUser = await pair((_got, s) => s.write(Buffer.from(goodReply.subarray(11).toString('latin1').replaceAll('alice', 'bobby'), 'latin1')));
  try {
    assert.equal(await resetSession(wrongUser.client, [], user, 2000), 'session_user');
  } finally {
    wrongUser.close();
  }
});

test('probeSession: true for EmptyQueryResponse + ReadyForQuery I, false otherwise', async () => {
  const ok = await pair((_got, s) => s.write(Buffer.concat([be.emptyQueryResponse(), be.readyForQuery('I')])));
  try {
    assert.equal(await probeSession(ok.client, 2000), true);
    assert.deepEqual(ok.received(), fe.query(''));
  } finally {
    ok.close();
  }
  const dead = await pair((_got, s) => s.write(Buffer.concat([be.errorResponse('57P01', 'terminating'), be.readyForQuery('I')])));
  try {
    assert.equal(await probeSession(dead.client, 2000), false);
  } finally {
    dead.close();
  }
});
