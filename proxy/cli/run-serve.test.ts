import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AwsAuthenticator } from '../../auth/index.js';
import type { AuthOptions, IdentityMapper } from '../../auth/types.js';
import { AuthError, AuthErrorCode } from '../../auth/errors.js';
import { runServe } from './run-serve.js';
import { getTestPki } from '../../testkit/certs.js';

/** Runs `fn` with a temp directory holding the test certificate as tls.crt / tls.key; removes it afterwards. */
async function withServeDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const pki = await getTestPki();
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-main-'));
  try {
    writeFileSync(join(dir, 'tls.crt'), pki.serverCertPem);
    writeFileSync(join(dir, 'tls.key'), pki.serverKeyPem);
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('serve builds the mapper through AwsAuthenticator.reload(config) and closes the authenticator at shutdown', async () => {
  await withServeDir(async (dir) => {
    const configPath = join(dir, 'rsproxy.yaml');
    const config = (rulesLine: string) => `listen: "127.0.0.1:0"
admin: { listen: "127.0.0.1:0" }
tls: { certFile: ${join(dir, 'tls.crt')}, keyFile: ${join(dir, 'tls.key')} }
identity: { audience: "rsproxy:test", stsRegions: [us-east-1], allowedAccounts: ["123456789012"] }
databases:
  dev: { cluster: c1, region: us-east-1 }
${rulesLine}
shutdown: { drainSeconds: 0 }
`;
    writeFileSync(configPath, config('rules: []'));
    const reloads: Array<{ rules: number; mapper: IdentityMapper | undefined; args: number }> = [];
    let closes = 0;
    const fake = (): AwsAuthenticator => ({
      authenticate: () => Promise.reject(new AuthError(AuthErrorCode.NoRule, 'no')),
      reload(next: AuthOptions, ...rest: [IdentityMapper?]) {
        reloads.push({ rules: next.rules.length, mapper: rest[0], args: 1 + rest.length });
      },
      close() {
        closes++;
      },
    });
    const lines: string[] = [];
    const handle = await runServe({ configPath, env: {}, stdout: { write: (s: string) => void lines.push(s) }, createAuthenticator: fake });
    writeFileSync(configPath, config('rules:\n  - { principal: "arn:aws:iam::123456789012:role/A", dbUser: a, databases: [dev] }'));
    assert.equal(await handle.reload(), true);
    assert.deepEqual(reloads, [{ rules: 1, mapper: undefined, args: 1 }]);
    assert.equal(closes, 0);
    handle.shutdown('SIGTERM');
    assert.equal(await handle.done, 143);
    assert.equal(closes, 1, 'the authenticator is closed at shutdown');
  });
});

test('admin.tokenFile that cannot be read at start is a config error (exit 1) naming the key and path', async () => {
  await withServeDir(async (dir) => {
    const configPath = join(dir, 'rsproxy.yaml');
    const tokenPath = join(dir, 'missing-token');
    writeFileSync(
      configPath,
      `listen: "127.0.0.1:0"
admin: { listen: "127.0.0.1:0", tokenFile: ${tokenPath} }
tls: { certFile: ${join(dir, 'tls.crt')}, keyFile: ${join(dir, 'tls.key')} }
identity: { audience: "rsproxy:test", stsRegions: [us-east-1], allowedAccounts: ["123456789012"] }
databases:
  dev: { cluster: c1, region: us-east-1 }
rules: []
`,
    );
    await assert.rejects(
      runServe({ configPath, env: {}, stdout: { write: () => true } }),
      (err: Error & { problems?: string[]; exitCode?: number }) => {
        assert.deepEqual(err.problems, [`admin.tokenFile: cannot read ${tokenPath} (ENOENT)`]);
        assert.equal(err.exitCode, 1);
        return true;
      },
    );
  });
});
