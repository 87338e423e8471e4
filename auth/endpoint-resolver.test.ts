import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRetrier } from './backoff.js';
import { createEndpointResolver, endpointTtlMs, targetRef } from './endpoint-resolver.js';
import { AuthError, AuthErrorCode } from './errors.js';
import type { RedshiftApi } from './redshift-minter.js';
import type { ServerlessApi } from './serverless-minter.js';
import type { DatabaseOptions } from './types.js';

const cluster: DatabaseOptions = { cluster: 'c1', region: 'eu-west-1', engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'verify-full' } };
const workgroup: DatabaseOptions = { workgroup: 'wg', region: 'eu-west-1', engine: 'redshift', dbName: 'dev', upstreamTls: { mode: 'verify-full' } };
const fixed: DatabaseOptions = { ...cluster, host: '10.1.2.3' };

function setup() {
  const clock = { t: 5_000_000, nowMs() { return this.t; } };
  const calls = { describe: 0, workgroup: 0 };
  const failures: Error[] = [];
  const redshift: RedshiftApi = {
    async describeClusterEndpoint(_r, id) {
      calls.describe++;
      const f = failures.shift();
      if (f !== undefined) throw f;
      await new Promise((r) => setImmediate(r));
      return { host: `${id}-${calls.describe}.example.com`, port: 5439 };
    },
    async getClusterCredentials() {
      throw new Error('unused');
    },
  };
  const serverless: ServerlessApi = {
    async getWorkgroupEndpoint(_r, wg) {
      calls.workgroup++;
      return { host: `${wg}.example.com`, port: 5440 };
    },
    async getCredentials() {
      throw new Error('unused');
    },
  };
  const retry = createRetrier({ clock, random: () => 0.5, sleep: async (ms) => { clock.t += ms; } });
  const resolver = createEndpointResolver({ redshift, serverless, retry, clock });
  return { clock, calls, failures, resolver };
}

test('targetRef ids', () => {
  assert.equal(targetRef(cluster).id, 'cluster:eu-west-1:c1');
  assert.equal(targetRef(workgroup).id, 'workgroup:eu-west-1:wg');
});

test('fixed host/port: no discovery (port defaults to 5439)', async () => {
  const s = setup();
  assert.deepEqual(await s.resolver.resolve({ ...fixed, port: 5500 }, s.clock.t + 10_000), { host: '10.1.2.3', port: 5500 });
  assert.deepEqual(await s.resolver.resolve(fixed, s.clock.t + 10_000), { host: '10.1.2.3', port: 5439 });
  assert.equal(s.calls.describe, 0);
});

test('cached for 5 minutes, single-flight, then rediscovered', async () => {
  const s = setup();
  const all = await Promise.all(Array.from({ length: 30 }, () => s.resolver.resolve(cluster, s.clock.t + 10_000)));
  assert.ok(all.every((e) => e.host === 'c1-1.example.com'));
  assert.equal(s.calls.describe, 1);
  s.clock.t += endpointTtlMs - 1;
  assert.equal((await s.resolver.resolve(cluster, s.clock.t + 10_000)).host, 'c1-1.example.com');
  s.clock.t += 1;
  assert.equal((await s.resolver.resolve(cluster, s.clock.t + 10_000)).host, 'c1-2.example.com');
  assert.deepEqual(await s.resolver.resolve(workgroup, s.clock.t + 10_000), { host: 'wg.example.com', port: 5440 });
  assert.equal(s.calls.workgroup, 1);
});

test('forget() after a connect failure forces a new lookup', async () => {
  const s = setup();
  await s.resolver.resolve(cluster, s.clock.t + 10_000);
  s.resolver.forget(cluster);
  assert.equal((await s.resolver.resolve(cluster, s.clock.t + 10_000)).host, 'c1-2.example.com');
});

test('throttled discovery is retried with backoff; a missing cluster is not', async () => {
  const s = setup();
  s.failures.push(new AuthError(AuthErrorCode.CredentialsThrottled, 'Rate exceeded'));
  assert.equal((await s.resolver.resolve(cluster, s.clock.t + 10_000)).host, 'c1-2.example.com');
  s.resolver.clear();
  s.failures.push(new AuthError(AuthErrorCode.CredentialsFailed, 'ClusterNotFound'));
  await assert.rejects(s.resolver.resolve(cluster, s.clock.t + 10_000), /ClusterNotFound/);
  assert.equal(s.calls.describe, 3);
});

test('throttled discovery retries only until the login deadline (docs/design/aws.md §8)', async () => {
  const s = setup();
  for (let i = 0; i < 4; i++) s.failures.push(new AuthError(AuthErrorCode.CredentialsThrottled, 'Rate exceeded'));
  // Full jitter at 0.5: one 100 ms sleep fits before +250, the next 200 ms would not.
  await assert.rejects(s.resolver.resolve(cluster, s.clock.t + 250), /Rate exceeded/);
  assert.equal(s.calls.describe, 2);
});
