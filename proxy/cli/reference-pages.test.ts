import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referencePages } from './reference-pages.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

for (const page of referencePages) {
  test(`${page.path} is up to date with the code (npm run docs:reference regenerates it)`, () => {
    assert.equal(readFileSync(join(root, page.path), 'utf8'), page.render(), `${page.path} is stale: run npm run docs:reference`);
  });
}

test('the configuration page lists nested, record and list keys with their defaults and env vars', () => {
  const text = referencePages.find((p) => p.path.endsWith('configuration.md'))!.render();
  assert.match(text, /\| `limits\.loginTimeoutMs` \| number \| `10000` \|/);
  assert.match(text, /\| `databases\.<name>\.region` \|/);
  assert.match(text, /\| `rules\[\]\.principal` \|/);
  assert.match(text, /\| `limits\.loginTimeoutMs` \| `--limits-login-timeout-ms` \| `RSPROXY_LIMITS_LOGIN_TIMEOUT_MS` \|/);
});

test('the metrics page lists every rsproxy metric with its labels', () => {
  const text = referencePages.find((p) => p.path.endsWith('metrics.md'))!.render();
  assert.match(text, /\| `rsproxy_logins_total` \| counter \| `result`, `reason` \|/);
  assert.match(text, /\| `rsproxy_client_connections` \| gauge \|/);
});
