/** The reuse building blocks against a real PostgreSQL: the check-in tracker on real traffic, the reset and the probe. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type * as tls from 'node:tls';
import type { UpstreamTarget } from '../../auth/types.js';
import { MessageFramer } from '../../proxy/protocol/framer.js';
import type { Frame } from '../../proxy/protocol/framer.js';
import { upstreamLogin } from '../../proxy/upstream/login.js';
import { CheckinTracker } from '../../proxy/upstream/checkin-tracker.js';
import type { CheckinVerdict } from '../../proxy/upstream/checkin-tracker.js';
import { probeSession, resetSession } from '../../proxy/upstream/reset-exchange.js';
import { captureLogger } from '../../testkit/capture-logger.js';
import { pgAvailable, requirePg, startPgCluster } from '../../testkit/pg-cluster.js';
import type { PgCluster } from '../../testkit/pg-cluster.js';
import { fe } from '../../testkit/query-wire.js';

/** A logged-in upstream session driven the way the relay would: every byte passes through a CheckinTracker. */
class TrackedSession {
  readonly tracker = new CheckinTracker();
  readonly socket: tls.TLSSocket;

  constructor(socket: tls.TLSSocket) {
    this.socket = socket;
  }

  /** Sends client bytes and collects the upstream's frames until `readyCount` ReadyForQuery have arrived. */
  async send(bytes: Buffer, readyCount = 1): Promise<Frame[]> {
    const framer = new MessageFramer({ maxMessageBytes: 1 << 20 });
    const frames: Frame[] = [];
    const forward = this.tracker.feedFromClient(bytes);
    const done = new Promise<Frame[]>((resolve, reject) => {
      let seen = 0;
      const onData = (chunk: Buffer): void => {
        this.tracker.feedFromUpstream(chunk);
        framer.push(chunk);
        for (let f = framer.next(); f !== undefined; f = framer.next()) {
          frames.push({ type: f.type, body: Buffer.from(f.body), raw: Buffer.from(f.raw) });
          if (f.type === 0x5a && ++seen === readyCount) {
            this.socket.removeListener('data', onData);
            this.socket.pause();
            resolve(frames);
          }
        }
      };
      this.socket.on('data', onData);
      this.socket.once('error', reject);
    });
    this.socket.write(bytes.subarray(0, forward));
    this.socket.resume();
    return done;
  }

  /** The client leaves with a Terminate (kept from the upstream by the tracker). */
  leave(): CheckinVerdict {
    assert.equal(this.tracker.feedFromClient(fe.terminate()), 0);
    return this.tracker.verdict();
  }
}

const types = (frames: Frame[]): string => frames.map((f) => String.fromCharCode(f.type)).join('');
const text = (f: Frame | undefined): string => (f === undefined ? '' : f.body.subarray(6, 6 + f.body.readInt32BE(2)).toString());

describe('upstream reuse building blocks against real PostgreSQL', () => {
  let pg: PgCluster;
  let target: UpstreamTarget;
  before(async () => {
    if (!pgAvailable()) return;
    pg = await startPgCluster();
    await pg.query("CREATE ROLE alice LOGIN PASSWORD 'alice-pw'; CREATE ROLE helper; GRANT helper TO alice");
    await pg.query('CREATE PROCEDURE noop() LANGUAGE sql AS $$ SELECT 1 $$; GRANT EXECUTE ON PROCEDURE noop() TO alice');
    target = { database: 'dev', host: '127.0.0.1', port: pg.port, dbName: 'postgres', engine: 'postgres', tlsMode: 'verify-full', caFile: pg.caFile };
  });
  after(async () => {
    await pg?.stop();
  });

  async function login(): Promise<TrackedSession> {
    const s = await upstreamLogin({ target, user: 'alice', password: 'alice-pw', parameters: [['application_name', 'login-app']], deadlineMs: Date.now() + 10_000, logger: captureLogger([]) });
    assert.equal(s.leftover.length, 0);
    return new TrackedSession(s.socket);
  }

  test('a session that changed settings is kept, reset to its login settings, and passes the probe', async (t) => {
    if (!requirePg(t)) return;
    const s = await login();
    try {
      await s.send(fe.query("SET application_name = 'changed'; SET search_path = nowhere"));
      const v = s.leave();
      assert.deepEqual(v, { keep: true, openStatements: [] });
      assert.equal(await resetSession(s.socket, [], 'alice', 2000), 'ok');
      const next = new TrackedSession(s.socket);
      const shown = await next.send(fe.query('SHOW application_name'));
      assert.equal(text(shown.find((f) => f.type === 0x44)), 'login-app');
      assert.equal(await probeSession(s.socket, 2000), true);
    } finally {
      s.socket.destroy();
    }
  });

  test('named statements the client left open are closed by the reset (a second Parse of the name then works)', async (t) => {
    if (!requirePg(t)) return;
    const s = await login();
    try {
      const parsed = await s.send(Buffer.concat([fe.parse('s1', 'SELECT 1'), fe.parse('s2', 'SELECT 2'), fe.sync()]));
      assert.equal(types(parsed), '11Z');
      await s.send(Buffer.concat([fe.close('S', 's2'), fe.sync()]));
      const v = s.leave();
      assert.equal(v.keep, true);
      assert.deepEqual(v.keep ? v.openStatements.map(String) : [], ['s1']);
      assert.equal(await resetSession(s.socket, v.keep ? v.openStatements : [], 'alice', 2000), 'ok');
      const next = new TrackedSession(s.socket);
      assert.equal(types(await next.send(Buffer.concat([fe.parse('s1', 'SELECT 1'), fe.parse('s2', 'SELECT 2'), fe.sync()]))), '11Z');
      // Without the Close, the name would still be taken.
      assert.equal(await resetSession(s.socket, [], 'alice', 2000), 'ok');
      assert.equal(types(await next.send(Buffer.concat([fe.parse('s1', 'SELECT 1'), fe.sync()]))), 'EZ');
    } finally {
      s.socket.destroy();
    }
  });

  test('a temporary table is temp_schema; SET ROLE is session_user', async (t) => {
    if (!requirePg(t)) return;
    const temp = await login();
    try {
      await temp.send(fe.query('CREATE TEMP TABLE scratch (x int)'));
      assert.equal(temp.leave().keep, true);
      assert.equal(await resetSession(temp.socket, [], 'alice', 2000), 'temp_schema');
    } finally {
      temp.socket.destroy();
    }
    const role = await login();
    try {
      await role.send(fe.query('SET ROLE helper'));
      assert.equal(role.leave().keep, true);
      assert.equal(await resetSession(role.socket, [], 'alice', 2000), 'session_user');
    } finally {
      role.socket.destroy();
    }
  });

  test('the tracker sees PostgreSQL’s real command tags and transaction status', async (t) => {
    if (!requirePg(t)) return;
    const cases: Array<[string, string]> = [
      ['PREPARE p AS SELECT 1', 'prepare'],
      ['CALL noop()', 'call'],
      ['BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT 1; COMMIT', 'declare_cursor'],
      ['LISTEN chan', 'listen'],
      ['BEGIN', 'in_transaction'],
      ['SELEC 1', 'keep'],
    ];
    for (const [sql, expected] of cases) {
      const s = await login();
      try {
        await s.send(fe.query(sql));
        const v = s.leave();
        assert.equal(v.keep ? 'keep' : v.reason, expected, sql);
      } finally {
        s.socket.destroy();
      }
    }
  });

  test('COPY FROM STDIN in progress is copy', async (t) => {
    if (!requirePg(t)) return;
    const s = await login();
    try {
      await s.send(fe.query('CREATE TEMP TABLE t (x int)'));
      const started = new Promise<void>((resolve) => s.socket.once('data', () => resolve()));
      s.socket.write(fe.query('COPY t FROM STDIN').subarray(0, s.tracker.feedFromClient(fe.query('COPY t FROM STDIN'))));
      s.socket.on('data', (c: Buffer) => s.tracker.feedFromUpstream(c));
      s.socket.resume();
      await started;
      assert.deepEqual(s.leave(), { keep: false, reason: 'copy' });
    } finally {
      s.socket.destroy();
    }
  });
});
