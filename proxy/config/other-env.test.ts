import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolveConfig, scalarKeys } from './config.js';
import { otherEnvVars } from './other-env.js';

// dist/proxy/config/other-env.test.js → the project root is three levels up.
const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');

/** The variable names of every ENV instruction (continuation lines joined). */
function dockerfileEnvNames(text: string): string[] {
  const joined = text.replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .filter((l) => /^ENV\s/.test(l))
    .flatMap((l) => [...l.slice(4).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1] ?? ''));
}

const unknownWarnings = (env: Record<string, string>) => resolveConfig({}, { env }).warnings.filter((w) => w.includes('not a config key'));

test('the container image sets RSPROXY_COMMIT, and none of the variables it sets warns', () => {
  const names = dockerfileEnvNames(dockerfile);
  assert.ok(names.includes('RSPROXY_COMMIT'), `Dockerfile ENV names: ${names.join(', ')}`);
  assert.deepEqual(unknownWarnings(Object.fromEntries(names.map((n) => [n, 'abcdef123456']))), []);
});

test('the commands\' own RSPROXY_* variables do not warn; a typo still does', () => {
  assert.deepEqual(unknownWarnings(Object.fromEntries(Object.keys(otherEnvVars).map((n) => [n, 'x']))), []);
  assert.deepEqual(unknownWarnings({ RSPROXY_COMMIT: 'abc1234', RSPROXY_TYPO: '1' }), ['RSPROXY_TYPO: not a config key; ignored']);
});

test('no command variable shadows a config key', () => {
  const keys = new Set(scalarKeys.map((k) => k.env));
  assert.deepEqual(Object.keys(otherEnvVars).filter((n) => keys.has(n)), []);
});
