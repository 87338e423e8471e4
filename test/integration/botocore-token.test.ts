/**
 * Cross-implementation check of the rsp1 format (docs/design/token.md §2): tokens minted by botocore's own
 * SigV4 presigner (test/fixtures/mint_rsp1_botocore.py, Debian python3-botocore) reproduce the
 * §2.5 vectors, verify at the emulator when rebuilt per §2.4, and log in through the proxy.
 */
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../emulator/index.js';
import type { Emulator } from '../../emulator/index.js';
import { pgAvailable, requirePg } from '../../testkit/pg-cluster.js';
import type { IamStack } from '../../testkit/iam-stack.js';
import { requireTool } from '../../testkit/tools.js';
import { httpGet, type HttpAnswer } from '../../testkit/http-get.js';

// The proxy stack is imported lazily, so the vector and emulator checks run without the proxy's auth modules.
const loadStack = () => import('../../testkit/iam-stack.js');
const iamAudience = 'rsproxy:prod';
const iamRegion = 'eu-west-1';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(root, 'test', 'fixtures', 'mint_rsp1_botocore.py');
const python = '/usr/bin/python3';

let botocoreProbe: string | undefined;
/** Empty when /usr/bin/python3 can import botocore, else why not. */
function botocoreProblem(): string {
  if (botocoreProbe !== undefined) return botocoreProbe;
  if (!existsSync(python)) botocoreProbe = `${python} not found`;
  else {
    const r = spawnSync(python, ['-c', 'import botocore.auth'], { encoding: 'utf8' });
    botocoreProbe = r.status === 0 ? '' : `python3-botocore not importable by ${python}: ${r.stderr.trim().slice(-200)}`;
  }
  return botocoreProbe;
}

/** Gate: true when botocore is usable; else fails under CI=true, or skips locally. */
function requireBotocore(t: TestContext): boolean {
  const problem = botocoreProblem();
  return requireTool(t, problem === '' ? 'botocore' : problem, problem === '');
}

interface BotocoreCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

interface BotocoreMint {
  token: string;
  url: string;
  signature: string;
  canonicalRequestHash: string;
  signedHeaders: string;
  botocoreVersion: string;
}

/** Runs the fixture; credentials travel in the environment, never in argv. */
function mintWithBotocore(creds: BotocoreCredentials, audience: string, region: string, amzDate?: string): Promise<BotocoreMint> {
  const args = [fixture, '--audience', audience, '--region', region, '--json', ...(amzDate === undefined ? [] : ['--date', amzDate])];
  const env: Record<string, string> = {
    PATH: '/usr/bin:/bin',
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    ...(creds.sessionToken === undefined ? {} : { AWS_SESSION_TOKEN: creds.sessionToken }),
  };
  return new Promise((resolvePromise, reject) => {
    execFile(python, args, { env, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`botocore fixture failed: ${stderr}`, { cause: err }));
      else resolvePromise(JSON.parse(stdout) as BotocoreMint);
    });
  });
}

const rfc3986 = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The presigned GET implied by an rsp1 token (docs/design/token.md §2.2, §2.4), built here independently of auth/. */
function rebuildRequest(token: string, domain = 'amazonaws.com'): { host: string; path: string } {
  const [prefix, region, amzDate, akid, signature, session] = token.split('.');
  assert.equal(prefix, 'rsp1');
  assert.ok(region !== undefined && amzDate !== undefined && akid !== undefined && signature !== undefined);
  const query: Array<[string, string]> = [
    ['Action', 'GetCallerIdentity'],
    ['Version', '2011-06-15'],
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${akid}/${amzDate.slice(0, 8)}/${region}/sts/aws4_request`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', '900'],
    ['X-Amz-SignedHeaders', 'host;x-rsproxy-audience'],
  ];
  if (session !== undefined) query.push(['X-Amz-Security-Token', Buffer.from(session, 'base64url').toString('base64')]);
  query.push(['X-Amz-Signature', signature]);
  return { host: `sts.${region}.${domain}`, path: `/?${query.map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).join('&')}` };
}

function stsGet(emulatorUrl: string, req: { host: string; path: string }, audience: string): Promise<HttpAnswer> {
  const target = new URL(emulatorUrl);
  return httpGet({ host: target.hostname, port: target.port, path: req.path, headers: { host: req.host, 'x-rsproxy-audience': audience, accept: 'application/json' } });
}

const exampleSecret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const vectorDate = '20261124T101500Z';

describe('botocore reproduces the docs/design/token.md §2.5 vectors', () => {
  test('vector A: long-term key, no session token', async (t) => {
    if (!requireBotocore(t)) return;
    const out = await mintWithBotocore({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: exampleSecret }, 'rsproxy:prod', 'eu-west-1', vectorDate);
    assert.equal(out.canonicalRequestHash, '1fce15fecdad99b5010cf6c075797d7a4ecebdd56fa95378d5297be0c6c1827f');
    assert.equal(out.signature, 'a6b44196f1bb09db77b19538d13caa07a1430e155c7b2478048f4ff4adf63336');
    assert.equal(out.signedHeaders, 'host;x-rsproxy-audience');
    assert.equal(out.token, 'rsp1.eu-west-1.20261124T101500Z.AKIAIOSFODNN7EXAMPLE.a6b44196f1bb09db77b19538d13caa07a1430e155c7b2478048f4ff4adf63336');
    assert.equal(out.token.length, 117);
    assert.equal(
      out.url,
      'https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261124%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Date=20261124T101500Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host%3Bx-rsproxy-audience&X-Amz-Signature=a6b44196f1bb09db77b19538d13caa07a1430e155c7b2478048f4ff4adf63336',
    );
    // Our independent rebuild of the token gives botocore's URL back (parameter order included).
    const rebuilt = rebuildRequest(out.token);
    assert.equal(`https://${rebuilt.host}${rebuilt.path}`, out.url);
  });

  test('vector B: temporary key with a session token (base64 ↔ base64url)', async (t) => {
    if (!requireBotocore(t)) return;
    const sessionToken = 'IQoJb3JpZ2luX2VjEXAMPLH77//+P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg==';
    const out = await mintWithBotocore({ accessKeyId: 'ASIAEXAMPLEEXAMPLE12', secretAccessKey: exampleSecret, sessionToken }, 'rsproxy:prod', 'eu-west-1', vectorDate);
    assert.ok(out.url.includes('X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLH77%2F%2F%2BP79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg%3D%3D'));
    assert.equal(out.canonicalRequestHash, '2f25e174b7d4e0fa905e0ca1571a9429e3ce3282d82e056f9d2c5de404bd7392');
    assert.equal(out.signature, 'a473f44475158ed91db5caef9524f846e7bc72396550b446f7cee8b9aed3217f');
    assert.equal(
      out.token,
      'rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.a473f44475158ed91db5caef9524f846e7bc72396550b446f7cee8b9aed3217f.IQoJb3JpZ2luX2VjEXAMPLH77__-P79yc3Byb3h5LWV4YW1wbGUtc2Vzc2lvbi10b2tlbg',
    );
    assert.equal(out.token.length, 188);
    const rebuilt = rebuildRequest(out.token);
    assert.equal(`https://${rebuilt.host}${rebuilt.path}`, out.url);
  });

  test('auth/token-mint.ts and botocore produce the same token byte for byte', async (t) => {
    if (!requireBotocore(t)) return;
    const { mintToken } = await import('../../auth/token-mint.js');
    const nowMs = Date.UTC(2026, 10, 29, 8, 30, 15);
    const creds = {
      accessKeyId: 'ASIACROSSCHECK000001',
      secretAccessKey: 'cross/check+secret=key/0123456789abcdefghij',
      sessionToken: Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 101 + 7) & 0xff)).toString('base64'),
    };
    for (const [audience, region] of [
      ['rsproxy:prod', 'eu-west-1'],
      ['team.a-b_c:x', 'us-east-1'],
    ] as const) {
      const ours = await mintToken({ audience, region, credentials: creds, nowMs });
      const theirs = await mintWithBotocore(creds, audience, region, '20261129T083015Z');
      assert.equal(ours, theirs.token, `${audience} ${region}`);
    }
  });

  test('a non-canonical session token is refused by the fixture', async (t) => {
    if (!requireBotocore(t)) return;
    // "QQ" decodes to 'A' with zero trailing bits; "QR" has non-zero unused bits (docs/design/token.md §2.3).
    await assert.rejects(
      mintWithBotocore({ accessKeyId: 'ASIAEXAMPLEEXAMPLE12', secretAccessKey: exampleSecret, sessionToken: 'QR==' }, 'rsproxy:prod', 'eu-west-1', vectorDate),
      /not canonical base64/,
    );
  });
});

describe('a botocore token verifies at the emulator', () => {
  let emulator: Emulator | undefined;
  const principal = {
    accessKeyId: 'ASIABOTOCORETEST0001',
    secretAccessKey: 'c2VjcmV0LWtleS1mb3ItYm90b2NvcmUtdGVzdHM+/x',
    // 301 bytes → standard base64 with `+`, `/` and `=` padding.
    sessionToken: Buffer.from(Array.from({ length: 301 }, (_, i) => (i * 37 + 251) & 0xff)).toString('base64'),
    arn: 'arn:aws:sts::123456789012:assumed-role/Analyst/botocore',
    accountId: '123456789012',
    userId: 'AROABOTOCORE00000001:botocore',
  };

  before(async () => {
    emulator = await startEmulator({ principals: [principal] });
  });
  after(async () => {
    await emulator?.close();
  });

  test('rebuilt per §2.4 → 200 JSON identity; another audience → 403, one call each', async (t) => {
    if (!requireBotocore(t)) return;
    assert.ok(emulator !== undefined);
    emulator.counters.reset();
    const out = await mintWithBotocore(principal, iamAudience, iamRegion);
    assert.match(out.token, /^rsp1\.eu-west-1\.\d{8}T\d{6}Z\.ASIABOTOCORETEST0001\.[0-9a-f]{64}\.[A-Za-z0-9_-]+$/);
    const req = rebuildRequest(out.token);
    assert.equal(`https://${req.host}${req.path}`, out.url);

    const ok = await stsGet(emulator.url, req, iamAudience);
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(JSON.parse(ok.body).GetCallerIdentityResponse.GetCallerIdentityResult, {
      Account: principal.accountId,
      Arn: principal.arn,
      UserId: principal.userId,
    });
    assert.equal(emulator.lastStsRequest?.host, 'sts.eu-west-1.amazonaws.com');

    const wrongAudience = await stsGet(emulator.url, req, 'rsproxy:staging');
    assert.equal(wrongAudience.status, 403);
    assert.equal(JSON.parse(wrongAudience.body).Error.Code, 'SignatureDoesNotMatch');
    assert.equal(emulator.counters.get('GetCallerIdentity', 'ok'), 1);
    assert.equal(emulator.counters.get('GetCallerIdentity', 'SignatureDoesNotMatch'), 1);
  });
});

describe('a botocore token logs in through the proxy', { skip: !pgAvailable() && process.env['CI'] !== 'true' ? 'PostgreSQL binaries not found' : false }, () => {
  let stack: IamStack | undefined;

  before(async () => {
    if (!pgAvailable() || botocoreProblem() !== '') return;
    stack = await (await loadStack()).startIamStack();
  });
  after(async () => {
    await stack?.close();
  });

  test('alice (session token) and bob (long-term key) log in with botocore tokens', async (t) => {
    if (!requirePg(t) || !requireBotocore(t)) return;
    assert.ok(stack !== undefined);
    stack.emulator.counters.reset();
    for (const [name, user, upstreamUser] of [
      ['alice', 'alice', 'IAMA:alice'],
      ['bob', 'bob', 'IAMA:bob'],
    ] as const) {
      const p = stack.principals.get(name);
      assert.ok(p !== undefined);
      const out = await mintWithBotocore(p, iamAudience, iamRegion);
      stack.secrets.add(out.token);
      stack.secrets.add(out.signature);
      const client = await stack.connect(out.token, user);
      try {
        const r = await client.query<{ u: string }>('SELECT current_user AS u');
        assert.equal(r.rows[0]?.u, upstreamUser);
      } finally {
        await client.end();
      }
    }
    assert.equal(stack.emulator.counters.get('GetCallerIdentity', 'ok'), 2);
    assert.deepEqual((await import('../../testkit/log-hygiene.js')).leakedSecrets(stack.logs, stack.secrets), []);
  });

  test('a botocore token minted for another audience is refused (28P01)', async (t) => {
    if (!requirePg(t) || !requireBotocore(t)) return;
    assert.ok(stack !== undefined);
    const p = stack.principals.get('alice');
    assert.ok(p !== undefined);
    const out = await mintWithBotocore(p, 'rsproxy:staging', iamRegion);
    stack.secrets.add(out.token);
    const failure = await stack.loginError(out.token, 'alice');
    assert.equal(failure.code, '28P01');
    assert.equal(failure.message, 'IAM authentication failed for user "alice"');
    assert.equal(stack.emulator.lastStsRequest?.headers['x-rsproxy-audience'], iamAudience);
  });
});
