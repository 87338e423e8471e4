import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineLogger } from './tunnel.js';

test('lineLogger: one plain line per record, naming the tunnel of a --config entry and the connection; debug dropped', () => {
  const lines: string[] = [];
  const root = lineLogger((l) => void lines.push(l));
  root.info({}, 'SIGTERM: closing 0 connection(s) and exiting');
  root.child({ connectionId: 3 }).warn({}, '28000 no usable AWS credentials');
  const second = root.child({ tunnel: 1 });
  second.child({ connectionId: 7 }).info({ event: 'connected' }, 'logged in to p:5439 as alice (database sales)');
  second.debug({}, 'dropped');
  assert.deepEqual(lines, [
    'rsproxy tunnel: SIGTERM: closing 0 connection(s) and exiting\n',
    'rsproxy tunnel: [conn 3] 28000 no usable AWS credentials\n',
    'rsproxy tunnel: [tunnel 1] [conn 7] logged in to p:5439 as alice (database sales)\n',
  ]);
});
