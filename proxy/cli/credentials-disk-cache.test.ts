import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredentialsDiskCache, defaultCacheDir, diskCacheKey, type CachedCredentials, type DiskCacheKeyParts } from './credentials-disk-cache.js';

const moduleUrl = new URL('./credentials-disk-cache.js', import.meta.url).href;

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-dcache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const entry = (expiresAtMs: number, dbPassword = 'pw'): CachedCredentials => ({ dbUser: 'IAM:alice', dbPassword, expiresAtMs, host: 'h', port: 5439, dbName: 'dev' });

const parts: DiskCacheKeyParts = {
  target: { kind: 'cluster', id: 'analytics-prod' },
  region: 'eu-west-1',
  dbUser: 'alice',
  dbName: 'dev',
  dbGroups: ['b', 'a'],
  autoCreate: false,
  durationSeconds: 900,
  credentialSource: 'profile:dev',
};

const mode = (p: string) => statSync(p).mode & 0o777;

test('defaultCacheDir: $XDG_CACHE_HOME/rsproxy when absolute, else ~/.cache/rsproxy', () => {
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' }, '/home/u'), '/x/cache/rsproxy');
  assert.equal(defaultCacheDir({}, '/home/u'), '/home/u/.cache/rsproxy');
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: 'relative' }, '/home/u'), '/home/u/.cache/rsproxy');
});

test('diskCacheKey: groups are sorted; every part (incl. the AWS credential source) changes the key', () => {
  const k = diskCacheKey(parts);
  assert.match(k, /^[0-9a-f]{64}$/);
  assert.equal(diskCacheKey({ ...parts, dbGroups: ['a', 'b'] }), k);
  const variants: DiskCacheKeyParts[] = [
    { ...parts, target: { kind: 'workgroup', id: 'analytics-prod' } },
    { ...parts, target: { kind: 'cluster', id: 'other' } },
    { ...parts, region: 'us-east-1' },
    { ...parts, dbUser: 'bob' },
    { ...parts, dbName: 'prod' },
    { ...parts, dbGroups: ['a'] },
    { ...parts, autoCreate: true },
    { ...parts, durationSeconds: 3600 },
    { ...parts, credentialSource: 'profile:prod' },
    { ...parts, credentialSource: 'akid:AKIAEXAMPLE' },
  ];
  const keys = new Set([k, ...variants.map(diskCacheKey)]);
  assert.equal(keys.size, variants.length + 1);
});

test('write/read: dir 0700, file 0600 even under a permissive umask; valid until 60 s before expiry', async (t) => {
  const root = tempDir(t);
  let now = 1_000_000;
  const cache = new CredentialsDiskCache({ dir: join(root, 'rsproxy'), nowMs: () => now });
  const old = process.umask(0o000);
  try {
    await cache.write('k', entry(now + 900_000));
  } finally {
    process.umask(old);
  }
  assert.equal(mode(cache.dir), 0o700);
  assert.equal(mode(cache.entryPath('k')), 0o600);
  assert.equal((await cache.read('k'))?.dbPassword, 'pw');
  now += 900_000 - 60_000 - 1;
  assert.ok(await cache.read('k'), 'still valid 60 s + 1 ms before expiry');
  now += 1;
  assert.equal(await cache.read('k'), undefined, 'stale at 60 s before expiry');
  assert.deepEqual(readdirSync(cache.dir), ['k.json'], 'no temp files left behind');
});

test('an existing directory is tightened to 0700; corrupt entries count as misses', async (t) => {
  const root = tempDir(t);
  const cache = new CredentialsDiskCache({ dir: root });
  await cache.ensureDir();
  assert.equal(mode(root), 0o700);
  writeFileSync(cache.entryPath('bad'), '{not json');
  assert.equal(await cache.read('bad'), undefined);
  writeFileSync(cache.entryPath('shape'), JSON.stringify({ dbUser: 1 }));
  assert.equal(await cache.read('shape'), undefined);
});

test('getOrFetch: miss fetches once and writes; hit does not fetch; fetch errors release the lock', async (t) => {
  const cache = new CredentialsDiskCache({ dir: tempDir(t) });
  let calls = 0;
  const fetch = async () => {
    calls++;
    return entry(Date.now() + 900_000);
  };
  assert.equal((await cache.getOrFetch('k', fetch)).source, 'fetched');
  assert.equal((await cache.getOrFetch('k', fetch)).source, 'cache');
  assert.equal(calls, 1);
  await assert.rejects(cache.getOrFetch('e', async () => Promise.reject(new Error('AccessDenied'))), /AccessDenied/);
  assert.deepEqual(readdirSync(cache.dir).filter((f) => f.endsWith('.lock')), []);
  assert.equal((await cache.getOrFetch('e', fetch)).source, 'fetched');
});

test('getOrFetch: concurrent promises make one fetch; the lock file is 0600 while held', async (t) => {
  const cache = new CredentialsDiskCache({ dir: tempDir(t), pollMs: 10 });
  let calls = 0;
  let lockMode = -1;
  const fetch = async () => {
    calls++;
    lockMode = mode(cache.lockPath('k'));
    await new Promise((r) => setTimeout(r, 100));
    return entry(Date.now() + 900_000, 'shared');
  };
  const results = await Promise.all(Array.from({ length: 8 }, () => cache.getOrFetch('k', fetch)));
  assert.equal(calls, 1);
  assert.equal(lockMode, 0o600);
  assert.equal(results.filter((r) => r.source === 'fetched').length, 1);
  assert.ok(results.every((r) => r.entry.dbPassword === 'shared'));
});

test('a stale lock left by a dead process is removed; a fresh one is waited for', async (t) => {
  const cache = new CredentialsDiskCache({ dir: tempDir(t), staleLockMs: 1000, lockWaitMs: 300, pollMs: 10 });
  await cache.ensureDir();
  writeFileSync(cache.lockPath('k'), '99999\n', { mode: 0o600 });
  const past = new Date(Date.now() - 5000);
  utimesSync(cache.lockPath('k'), past, past);
  assert.equal((await cache.getOrFetch('k', async () => entry(Date.now() + 900_000))).source, 'fetched');
  writeFileSync(cache.lockPath('j'), '99999\n', { mode: 0o600 });
  await assert.rejects(cache.getOrFetch('j', async () => entry(Date.now() + 900_000)), /timed out waiting for the credentials cache lock/);
});

test('10 concurrent processes make one fetch and all print the same password', async (t) => {
  const dir = tempDir(t);
  const counter = join(dir, 'calls.log');
  const script = `
    import { appendFileSync } from 'node:fs';
    import { CredentialsDiskCache } from ${JSON.stringify(moduleUrl)};
    const cache = new CredentialsDiskCache({ dir: ${JSON.stringify(join(dir, 'rsproxy'))}, pollMs: 20 });
    const r = await cache.getOrFetch('k', async () => {
      appendFileSync(${JSON.stringify(counter)}, 'x');
      await new Promise((res) => setTimeout(res, 300));
      return { dbUser: 'IAM:a', dbPassword: 'pw-' + process.pid, expiresAtMs: Date.now() + 900000, host: 'h', port: 1, dbName: 'd' };
    });
    process.stdout.write(r.entry.dbPassword);
  `;
  const run = () =>
    new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
  const outs = await Promise.all(Array.from({ length: 10 }, run));
  assert.equal(readFileSync(counter, 'utf8'), 'x');
  assert.equal(new Set(outs).size, 1);
  const files = readdirSync(join(dir, 'rsproxy'));
  assert.equal(files.length, 1);
  assert.equal(mode(join(dir, 'rsproxy', files[0] ?? '')), 0o600);
  assert.equal(mode(join(dir, 'rsproxy')), 0o700);
});
