/**
 * docs/design/token.md §15 case 40 at the raw-socket level against the real proxy (runServe + emulator + PostgreSQL):
 * a SASLInitialResponse-shaped `p` after R 3, a non-`p` message during authentication and a `p`
 * before the StartupMessage all end in FATAL 08P01 and a closed socket, with no STS call.
 */
import type * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import { plainSocket } from '../../testkit/raw-pg-client.js';
import { startStack } from '../../testkit/stack.js';
import type { StackHandle } from '../../testkit/stack.js';
import { cstr, expectError, startupPacket, tlsWire, typed, WireReader } from '../../testkit/raw-wire.js';

const authCleartext = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]);

/** `p` + "SCRAM-SHA-256\0" + Int32 len + "n,,n=,r=<nonce>", the shape libpq sends for SCRAM. */
function saslInitialResponse(): Buffer {
  const data = Buffer.from(`n,,n=,r=${randomBytes(18).toString('base64')}`, 'utf8');
  const len = Buffer.alloc(4);
  len.writeInt32BE(data.length);
  return typed('p', Buffer.concat([cstr('SCRAM-SHA-256'), len, data]));
}

describe('case 40: out-of-order messages during authentication (real proxy)', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let stack: StackHandle | undefined;
  before(async () => {
    if (pgAvailable()) stack = await startStack();
  });
  after(async () => {
    await stack?.close();
  });
  const ready = (t: Parameters<typeof requirePg>[0]): StackHandle | undefined => {
    if (!requirePg(t)) return undefined;
    assert.ok(stack !== undefined, 'stack did not start');
    return stack;
  };
  const stsCalls = (s: StackHandle): number => s.emulator.counters.total('GetCallerIdentity');

  /** TLS + StartupMessage; returns once the proxy has asked for the cleartext password. */
  async function atPasswordPrompt(s: StackHandle): Promise<{ socket: net.Socket; reader: WireReader }> {
    const conn = await tlsWire(s.proxyPort, s.caPem);
    conn.socket.write(startupPacket([['user', s.dbUser], ['database', s.database]]));
    const r3 = await conn.reader.next();
    assert.deepEqual(r3.raw, authCleartext, 'the proxy asks for a cleartext password');
    return conn;
  }

  async function assertFatalAndClosed(reader: WireReader, code: string): Promise<void> {
    const fields = await expectError(reader);
    assert.equal(fields.get('V') ?? fields.get('S'), 'FATAL');
    assert.equal(fields.get('C'), code, `SQLSTATE (message: ${fields.get('M') ?? ''})`);
    await reader.closed;
  }

  test('a SASLInitialResponse-shaped p right after R 3 → FATAL 08P01, closed, no STS call', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const before = stsCalls(s);
    const { socket, reader } = await atPasswordPrompt(s);
    socket.write(saslInitialResponse());
    // docs/design/wire-protocol.md §6: the body does not end at its first NUL-terminated string, so it is not a PasswordMessage.
    await assertFatalAndClosed(reader, '08P01');
    assert.equal(stsCalls(s), before, 'no STS request for a malformed password message');
  });

  test('a Query (Q) during authentication → FATAL 08P01; so is a Sync (S)', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const before = stsCalls(s);
    for (const msg of [typed('Q', cstr('select 1')), typed('S', Buffer.alloc(0))]) {
      const { socket, reader } = await atPasswordPrompt(s);
      socket.write(msg);
      await assertFatalAndClosed(reader, '08P01');
    }
    assert.equal(stsCalls(s), before);
  });

  test('a p before the StartupMessage → FATAL 08P01 inside TLS; refused in plaintext', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const before = stsCalls(s);
    const token = await s.mintToken();
    const inTls = await tlsWire(s.proxyPort, s.caPem);
    inTls.socket.write(typed('p', cstr(token)));
    await assertFatalAndClosed(inTls.reader, '08P01');

    // In plaintext the first bytes are a length (0x70…, far over maxStartupBytes): 08P01 or a bare close, never R 3.
    const plain = await plainSocket(s.proxyPort);
    const reader = new WireReader(plain);
    plain.write(typed('p', cstr(token)));
    await reader.closed;
    const got = reader.received;
    if (got.length > 0) {
      assert.equal(String.fromCharCode(got[0] ?? 0), 'E', `plaintext answer ${got.subarray(0, 16).toString('hex')}`);
      assert.ok(got.includes(Buffer.from('C08P01\0')), 'plaintext error is 08P01');
    }
    assert.ok(!got.includes(authCleartext), 'no password request');
    assert.equal(stsCalls(s), before, 'the token was never verified');
  });

  test('after the attacks the proxy still serves a real client', async (t) => {
    const s = ready(t);
    if (s === undefined) return;
    const client = new pg.Client({ host: '127.0.0.1', port: s.proxyPort, user: s.dbUser, database: s.database, password: await s.mintToken(), ssl: { ca: s.caPem, servername: 'localhost' } });
    await client.connect();
    try {
      assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    } finally {
      await client.end();
    }
  });
});
