import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StartupFramer } from './startup-framer.js';
import { ProtocolError } from './protocol-error.js';

const ssl = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const gss = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);
function startup(): Buffer {
  const body = Buffer.from('user\0alice\0database\0dev\0\0', 'latin1');
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}
const stream = Buffer.concat([gss, ssl, startup()]);
const expected = [gss, ssl, startup()];

function drain(f: StartupFramer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = f.next(); p !== undefined; p = f.next()) out.push(Buffer.from(p));
  return out;
}

test('a multi-packet stream split at every byte offset yields the same packets', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const f = new StartupFramer({ maxStartupBytes: 10_000 });
    const got: Buffer[] = [];
    f.push(stream.subarray(0, cut));
    got.push(...drain(f));
    f.push(stream.subarray(cut));
    got.push(...drain(f));
    assert.deepEqual(got, expected, `cut at ${cut}`);
    assert.equal(f.bufferedBytes, 0);
  }
});

test('one byte at a time yields the same packets', () => {
  const f = new StartupFramer({ maxStartupBytes: 10_000 });
  const got: Buffer[] = [];
  for (const b of stream) {
    f.push(Buffer.from([b]));
    got.push(...drain(f));
  }
  assert.deepEqual(got, expected);
});

test('length over maxStartupBytes is refused from the 4-byte header alone', () => {
  const f = new StartupFramer({ maxStartupBytes: 10_000 });
  const head = Buffer.alloc(4);
  head.writeInt32BE(10_001);
  assert.throws(() => f.push(head), ProtocolError);
  const g = new StartupFramer({ maxStartupBytes: 10_000 });
  head.writeInt32BE(10_000);
  g.push(head);
  assert.equal(g.next(), undefined); // at the cap: waits for the body
});

test('length below 8 and negative lengths are refused', () => {
  for (const len of [0, 4, 7, -1, -2147483648]) {
    const head = Buffer.alloc(4);
    head.writeInt32BE(len);
    assert.throws(() => new StartupFramer({ maxStartupBytes: 10_000 }).push(head), /invalid startup packet length/, String(len));
  }
});

test('a TLS record or typed message byte as the first byte is refused as a length', () => {
  assert.throws(() => new StartupFramer({ maxStartupBytes: 10_000 }).push(Buffer.from([0x16, 3, 1, 0])), ProtocolError);
  assert.throws(() => new StartupFramer({ maxStartupBytes: 10_000 }).push(Buffer.from([0x70, 0, 0, 0, 9])), ProtocolError);
});

test('leftover after a packet is handed back and the framer is empty afterwards', () => {
  const f = new StartupFramer({ maxStartupBytes: 10_000 });
  f.push(Buffer.concat([ssl, Buffer.from('Qxyz')]));
  assert.deepEqual(f.next(), ssl);
  assert.equal(f.bufferedBytes, 4);
  assert.equal(f.takeLeftover().toString(), 'Qxyz');
  assert.equal(f.bufferedBytes, 0);
});
