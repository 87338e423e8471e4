import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { reuseKey } from './reuse-key.js';
import type { ReuseKeyInput } from './reuse-key.js';

const base: ReuseKeyInput = {
  principalArn: 'arn:aws:iam::123456789012:role/Analyst',
  database: 'analytics',
  target: { host: 'c.example.com', port: 5439, dbName: 'dev', engine: 'redshift', tlsMode: 'verify-full' },
  dbUser: 'IAMA:alice',
  dbGroups: ['analysts', 'bi'],
  startupParameters: [['application_name', 'psql'], ['DateStyle', 'ISO']],
};

test('order of dbGroups, session tags and startup parameters does not matter', () => {
  const a = reuseKey({ ...base, assumedRole: { roleArn: 'arn:aws:iam::1:role/r', sessionTags: { a: '1', b: '2' } } });
  const b = reuseKey({
    ...base,
    dbGroups: ['bi', 'analysts'],
    startupParameters: [['DateStyle', 'ISO'], ['application_name', 'psql']],
    assumedRole: { roleArn: 'arn:aws:iam::1:role/r', sessionTags: { b: '2', a: '1' } },
  });
  assert.equal(a, b);
});

test('every part of the key tells sessions apart', () => {
  const k = reuseKey(base);
  const variants: ReuseKeyInput[] = [
    { ...base, principalArn: 'arn:aws:iam::123456789012:role/Other' },
    { ...base, database: 'lake' },
    { ...base, target: { ...base.target, host: 'd.example.com' } },
    { ...base, target: { ...base.target, port: 5440 } },
    { ...base, target: { ...base.target, dbName: 'prod' } },
    { ...base, target: { ...base.target, engine: 'postgres' } },
    { ...base, target: { ...base.target, tlsMode: 'verify-ca' } },
    { ...base, target: { ...base.target, caFile: '/ca.pem' } },
    { ...base, dbUser: 'IAMA:bob' },
    { ...base, dbGroups: ['analysts'] },
    { ...base, assumedRole: { roleArn: 'arn:aws:iam::1:role/r', sessionTags: {} } },
    { ...base, startupParameters: [['application_name', 'psql']] },
    { ...base, startupParameters: [['application_name', 'psql'], ['datestyle', 'ISO']] },
    { ...base, startupParameters: [['application_name', 'psql'], ['DateStyle', 'ISO, MDY']] },
  ];
  const keys = new Set([k, ...variants.map(reuseKey)]);
  assert.equal(keys.size, variants.length + 1);
});

test('separators inside values cannot make two inputs collide', () => {
  const a = reuseKey({ ...base, dbGroups: ['a,b'], startupParameters: [['x', 'y"],["z']] });
  const b = reuseKey({ ...base, dbGroups: ['a', 'b'], startupParameters: [['x', 'y'], ['z', '']] });
  assert.notEqual(a, b);
  assert.notEqual(reuseKey({ ...base, dbUser: 'a', database: 'b|c' }), reuseKey({ ...base, dbUser: 'a|b', database: 'c' }));
});

test('property: two inputs share a key exactly when their canonical contents are equal', () => {
  const small = fc.constantFrom('a', 'b', 'a,b', '"', '\\', '', 'ü');
  const input = fc.record({
    principalArn: small,
    database: small,
    dbUser: small,
    dbGroups: fc.uniqueArray(small, { maxLength: 3 }),
    startupParameters: fc.uniqueArray(fc.tuple(small, small), { maxLength: 3, selector: (p) => p[0] }),
  });
  const canonical = (i: { principalArn: string; database: string; dbUser: string; dbGroups: string[]; startupParameters: Array<[string, string]> }): string =>
    [i.principalArn, i.database, i.dbUser, [...i.dbGroups].sort().join('\u0001'), [...i.startupParameters].sort().map((p) => p.join('\u0002')).join('\u0001')].join('\u0003');
  fc.assert(
    fc.property(input, input, (x, y) => {
      const kx = reuseKey({ ...base, ...x });
      const ky = reuseKey({ ...base, ...y });
      assert.equal(kx === ky, canonical(x) === canonical(y));
    }),
    { numRuns: 2000 },
  );
});
