import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { ScramError, ScramSha256Client } from './scram.js';

// RFC 7677 §3 test vector.
const rfc = {
  user: 'user',
  password: 'pencil',
  nonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

test('RFC 7677 vector: client-first, client-final, server-final', () => {
  const c = new ScramSha256Client({ user: rfc.user, nonce: rfc.nonce });
  assert.equal(c.createClientFirst().toString(), rfc.clientFirst);
  assert.equal(c.handleServerFirst(Buffer.from(rfc.serverFirst), rfc.password).toString(), rfc.clientFinal);
  assert.equal(c.isComplete, false);
  c.verifyServerFinal(Buffer.from(rfc.serverFinal));
  assert.equal(c.isComplete, true);
});

test('default client-first has gs2 n,, an empty user and a random nonce', () => {
  const a = new ScramSha256Client().createClientFirst().toString();
  const b = new ScramSha256Client().createClientFirst().toString();
  assert.match(a, /^n,,n=,r=[A-Za-z0-9+/]{24}$/);
  assert.notEqual(a, b);
});

test('agrees with node-postgres SCRAM (independent implementation)', async () => {
  const require = createRequire(import.meta.url);
  const sasl = require('pg/lib/crypto/sasl') as {
    startSession(m: string[]): { clientNonce: string; response: string };
    continueSession(s: object, pw: string, data: string): Promise<void>;
  };
  const session = sasl.startSession(['SCRAM-SHA-256']);
  const c = new ScramSha256Client({ user: '*', nonce: session.clientNonce });
  assert.equal(c.createClientFirst().toString(), session.response);
  for (const password of ['s3cret-Pass', 'pässwörd\u00A0x']) {
    const serverFirst = `r=${session.clientNonce}SERVERPART,s=${Buffer.from('saltsaltsalt').toString('base64')},i=4096`;
    const s2 = { ...session, message: 'SASLInitialResponse' };
    await sasl.continueSession(s2, password, serverFirst);
    const mine = new ScramSha256Client({ user: '*', nonce: session.clientNonce });
    mine.createClientFirst();
    assert.equal(mine.handleServerFirst(serverFirst, password).toString(), (s2 as { response: string }).response);
  }
});

function afterFirst(opts: ConstructorParameters<typeof ScramSha256Client>[0] = {}): ScramSha256Client {
  const c = new ScramSha256Client({ nonce: 'abc', ...opts });
  c.createClientFirst();
  return c;
}

test('server-first rejections', () => {
  const rows: Array<[string, string | RegExp]> = [
    ['r=xyzdef,s=c2FsdA==,i=4096', /nonce/],
    ['r=abc,s=c2FsdA==,i=4096', /nonce/],
    ['r=abcdef,s=c2FsdA==,i=4095', /below 4096/],
    ['r=abcdef,s=c2FsdA==,i=100001', /above/],
    ['r=abcdef,s=c2FsdA==,i=-1', /not a number/],
    ['r=abcdef,s=c2FsdA==,i=4096x', /not a number/],
    ['r=abcdef,s=!!!,i=4096', /base64/],
    ['r=abcdef,i=4096', /lacks/],
    ['m=ext,r=abcdef,s=c2FsdA==,i=4096', /mandatory extension/],
    ['r=abcdef,r=abcdeg,s=c2FsdA==,i=4096', /duplicate/],
    ['garbage', /malformed/],
    ['r=abcdef,s=c2FsdA==,i=4096,' + 'x'.repeat(5000), /too long/],
  ];
  for (const [msg, re] of rows) {
    assert.throws(() => afterFirst().handleServerFirst(msg, 'pw'), (e: unknown) => e instanceof ScramError && (re instanceof RegExp ? re.test(e.message) : e.message === re), msg);
  }
  assert.doesNotThrow(() => afterFirst({ minIterations: 1 }).handleServerFirst('r=abcdef,s=c2FsdA==,i=1', 'pw'));
});

test('server-final rejections and sequencing', () => {
  const good = () => {
    const c = new ScramSha256Client({ user: rfc.user, nonce: rfc.nonce });
    c.createClientFirst();
    c.handleServerFirst(rfc.serverFirst, rfc.password);
    return c;
  };
  const wrongSig = 'v=' + Buffer.alloc(32, 1).toString('base64');
  assert.throws(() => good().verifyServerFinal(wrongSig), /mismatch/);
  assert.throws(() => good().verifyServerFinal('v=AAAA'), /mismatch/);
  assert.throws(() => good().verifyServerFinal('e=invalid-proof'), /server error: invalid-proof/);
  assert.throws(() => good().verifyServerFinal('x=1'), /lacks v/);
  // A wrong password yields a different expected signature.
  const c = new ScramSha256Client({ user: rfc.user, nonce: rfc.nonce });
  c.createClientFirst();
  c.handleServerFirst(rfc.serverFirst, 'not-pencil');
  assert.throws(() => c.verifyServerFinal(rfc.serverFinal), /mismatch/);
  const fresh = new ScramSha256Client();
  assert.throws(() => fresh.handleServerFirst(rfc.serverFirst, 'pw'), ScramError);
  assert.throws(() => fresh.verifyServerFinal(rfc.serverFinal), ScramError);
  fresh.createClientFirst();
  assert.throws(() => fresh.createClientFirst(), ScramError);
});

test('SaltedPasswordCache returns the pbkdf2 value once computed and stays bounded', async () => {
  const { pbkdf2Sync } = await import('node:crypto');
  const { SaltedPasswordCache } = await import('./scram.js');
  const cache = new SaltedPasswordCache(2);
  const pw = Buffer.from('pencil');
  const salt = Buffer.from('QSXCR+Q6sek8bf92', 'base64');
  const want = pbkdf2Sync(pw, salt, 4096, 32, 'sha256');
  assert.deepEqual(cache.get(pw, salt, 4096), want);
  assert.equal(cache.get(pw, salt, 4096), cache.get(pw, salt, 4096), 'the second call is served from the cache');
  assert.notDeepEqual(cache.get(pw, salt, 4097), want, 'iterations are part of the key');
  cache.get(Buffer.from('other'), salt, 4096);
  assert.equal(cache.size, 2);
});

test('a SCRAM exchange with a SaltedPasswordCache matches one without (RFC 7677 vector)', async () => {
  const { SaltedPasswordCache, ScramSha256Client } = await import('./scram.js');
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const plain = new ScramSha256Client({ nonce: 'rOprNGfwEbeRWgbNEkqO' });
  const cached = new ScramSha256Client({ nonce: 'rOprNGfwEbeRWgbNEkqO', saltedPasswordCache: new SaltedPasswordCache() });
  plain.createClientFirst();
  cached.createClientFirst();
  assert.equal(cached.handleServerFirst(serverFirst, 'pencil').toString(), plain.handleServerFirst(serverFirst, 'pencil').toString());
});
