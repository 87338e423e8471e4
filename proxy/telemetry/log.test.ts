import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionLogger, createLogger } from './log.js';

function capture(): { lines: () => Record<string, unknown>[]; write(s: string): void } {
  const chunks: string[] = [];
  return {
    write(s: string) {
      chunks.push(s);
    },
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('writes one JSON object per line with level label, time and message', () => {
  const out = capture();
  const log = createLogger({ destination: out });
  log.info({ event: 'listening', port: 5439 }, 'proxy listening');
  const [line] = out.lines();
  assert.equal(line?.level, 'info');
  assert.equal(line?.msg, 'proxy listening');
  assert.equal(line?.port, 5439);
  assert.equal(line?.service, 'rsproxy');
  assert.match(String(line?.time), /^\d{4}-\d\d-\d\dT/);
});

test('connection child loggers carry the connection id', () => {
  const out = capture();
  const log = connectionLogger(createLogger({ destination: out }), 'c-42');
  log.warn({ event: 'login_failed', reason: 'expired' });
  assert.equal(out.lines()[0]?.connectionId, 'c-42');
});

test('secret-named fields are censored even if a caller slips one in', () => {
  const out = capture();
  const log = createLogger({ destination: out });
  const secret = 'rsp1.eu-west-1.20261124T101500Z.ASIAEXAMPLEEXAMPLE12.deadbeef';
  log.error({ password: secret, token: secret, req: { token: secret, password: secret, signature: 'abc' }, sessionToken: 'IQo' }, 'oops');
  const text = JSON.stringify(out.lines());
  assert.ok(!text.includes(secret), text);
  assert.ok(!text.includes('IQo'));
  assert.equal(out.lines()[0]?.password, '[REDACTED]');
});

test('level filters and can change at runtime', () => {
  const out = capture();
  const log = createLogger({ destination: out, level: 'warn' });
  log.info({}, 'hidden');
  log.setLevel('debug');
  log.debug({}, 'shown');
  assert.deepEqual(out.lines().map((l) => l.msg), ['shown']);
});
