/**
 * Issue 15 (idle memory): once a session relays, nothing keeps the login's AuthResult (it holds the upstream
 * password) or the UpstreamSession (ParameterStatus buffers, notices, leftovers) alive. Found with heap
 * snapshots of the load bench's idle phase: the relay's close callback kept the whole startRelay options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthRequest } from '../../auth/types.js';
import { collectGarbage } from '../../testkit/heap.js';
import { fakeUpstreamLogin } from '../../testkit/session-fakes.js';
import { harness, loggedIn } from '../../testkit/session-harness.js';
import type { Harness } from '../../testkit/session-harness.js';
import type { UpstreamLoginFn } from '../upstream/types.js';

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

test('a relaying session retains neither the AuthResult (upstream password) nor the UpstreamSession of its login', async () => {
  const results: Array<WeakRef<object>> = [];
  const upstreams: Array<WeakRef<object>> = [];
  let h: Harness | undefined;
  const inner = fakeUpstreamLogin(() => h?.backend.port ?? 0).login;
  const upstreamLogin: UpstreamLoginFn = async (opts) => {
    const session = await inner(opts);
    upstreams.push(new WeakRef(session));
    return session;
  };
  h = await harness({ upstreamLogin });
  const authenticate = h.auth.authenticate.bind(h.auth);
  h.auth.authenticate = async (req: AuthRequest) => {
    const result = await authenticate(req);
    results.push(new WeakRef(result));
    return result;
  };
  try {
    const sessions = await Promise.all([loggedIn(h), loggedIn(h), loggedIn(h)]);
    for (const { msgs } of sessions) assert.equal(msgs.at(-1)?.type, 'Z');
    assert.equal(h.server.connectionCount, 3);
    // WeakRefs hold their target until the job that made them ends: collect on later turns.
    for (let i = 0; i < 3; i++) {
      await tick();
      collectGarbage();
    }
    assert.equal(results.length, 3);
    assert.equal(results.filter((r) => r.deref() !== undefined).length, 0, 'AuthResults still reachable from relaying sessions');
    assert.equal(upstreams.filter((r) => r.deref() !== undefined).length, 0, 'UpstreamSessions still reachable from relaying sessions');
    for (const { c } of sessions) c.destroy();
  } finally {
    await h.close();
  }
});
