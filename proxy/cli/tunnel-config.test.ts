import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors/exit-codes.js';
import { loadTunnelConfig, tunnelPlansOf } from './tunnel-config.js';

const env = { AWS_REGION: 'eu-west-1', RSPROXY_AUDIENCE: 'rsproxy:prod' };
const refused = (value: unknown, pattern: RegExp): void => assert.throws(() => tunnelPlansOf(value, 't.yaml', env), (err: unknown) => err instanceof UsageError && pattern.test(err.message));

test('two entries become two plans with the flags\' defaults, region and audience from the environment', () => {
  const plans = tunnelPlansOf(
    {
      tunnels: [
        { host: 'proxy.example.com', listen: '127.0.0.1:5441', dbname: 'sales', user: 'ana' },
        { host: 'proxy.example.com', port: 6000, listen: '[::1]:0', dbname: 'ops', profile: 'corp', region: 'us-east-1', audience: 'rsproxy:other', sslmode: 'verify-ca', tokenReuseSeconds: 0, localTls: true },
      ],
    },
    't.yaml',
    env,
  );
  assert.equal(plans.length, 2);
  assert.deepEqual(plans[0], {
    listen: { kind: 'tcp', host: '127.0.0.1', port: 5441 },
    remote: { host: 'proxy.example.com', port: 5439, tlsMode: 'verify-full' },
    audience: 'rsproxy:prod',
    region: 'eu-west-1',
    reuseSeconds: 60,
    user: 'ana',
    dbName: 'sales',
    isLocalTls: false,
  });
  assert.deepEqual(plans[1], {
    listen: { kind: 'tcp', host: '::1', port: 0 },
    remote: { host: 'proxy.example.com', port: 6000, tlsMode: 'verify-ca' },
    audience: 'rsproxy:other',
    region: 'us-east-1',
    reuseSeconds: 0,
    dbName: 'ops',
    profile: 'corp',
    isLocalTls: true,
  });
});

test('a bad entry is refused by its index and field', () => {
  const good = { host: 'p', listen: '127.0.0.1:0' };
  refused({ tunnels: [good, { ...good, listen: '0.0.0.0:5439' }] }, /^t\.yaml: tunnels\[1\]\.listen must be a loopback address/);
  refused({ tunnels: [good, { ...good, port: 70000 }] }, /^t\.yaml: tunnels\[1\]\.port: .*got 70000/);
  refused({ tunnels: [good, { ...good, sslmode: 'disable' }] }, /tunnels\[1\]\.sslmode: /);
  refused({ tunnels: [{ ...good, tokenReuseSeconds: 241 }] }, /tunnels\[0\]\.tokenReuseSeconds: /);
  refused({ tunnels: [good, { listen: '127.0.0.1:0' }] }, /tunnels\[1\]\.host: .*missing/);
  refused({ tunnels: [good, { ...good, unix_socket: '/tmp' }] }, /tunnels\[1\]\.unix_socket: unknown key/);
  refused({ tunnels: [good, { ...good, audience: 'has space' }] }, /tunnels\[1\]\.audience: must match/);
  refused({ tunnels: [good, { ...good, region: 'Europe' }] }, /tunnels\[1\]\.region: not an AWS region/);
  refused({ tunnels: [good, { ...good, sslrootcert: '/nonexistent/ca.pem' }] }, /tunnels\[1\]\.sslrootcert: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/);
  refused({ tunnels: [good, { ...good, unixSocket: '/tmp' }] }, /tunnels\[1\]\.unixSocket needs a tunnels\[1\]\.listen port other than 0/);
  refused({ tunnels: [{ ...good, listen: '127.0.0.1:5441' }, { ...good, listen: '127.0.0.1:5441' }] }, /tunnels\[1\]\.listen: the same address as tunnels\[0\]/);
  refused({ tunnels: [] }, /^t\.yaml: tunnels: /);
  refused({ tunnel: [good] }, /tunnel: unknown key/);
  assert.throws(() => tunnelPlansOf({ tunnels: [good] }, 't.yaml', {}), /tunnels\[0\]\.audience is required/);
});

test('loadTunnelConfig reads YAML; an unreadable or unparsable file is a usage error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-tunnel-config-'));
  try {
    const file = join(dir, 'tunnels.yaml');
    writeFileSync(file, 'tunnels:\n  - host: p\n    listen: 127.0.0.1:0\n    dbname: dev\n');
    assert.equal(loadTunnelConfig(file, env)[0]?.dbName, 'dev');
    writeFileSync(file, 'tunnels: [\n');
    assert.throws(() => loadTunnelConfig(file, env), (err: unknown) => err instanceof UsageError && /^--config: cannot read .*tunnels\.yaml/.test(err.message));
    assert.throws(() => loadTunnelConfig(join(dir, 'none.yaml'), env), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
