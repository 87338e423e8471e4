import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamLoginError, UpstreamLoginErrorCode } from '../upstream/error.js';
import { message, passwordPacket, startupPacket, testPassword } from '../../testkit/session-fakes.js';
import { harness, readUntilZ, tlsClient } from '../../testkit/session-harness.js';
import type { Harness } from '../../testkit/session-harness.js';

async function login(h: Harness, params: Array<readonly [string, string]>): Promise<string> {
  const c = await tlsClient(h.port);
  c.write(startupPacket(params));
  assert.equal((await c.readMessage()).body.readInt32BE(0), 3);
  c.write(passwordPacket(testPassword));
  const types = (await readUntilZ(c)).map((m) => m.type).join('');
  c.destroy();
  return types;
}

test('a client\'s settings reach the upstream login as sent, minus IdP keys, Redshift-only keys (postgres target) and startupParameters.drop', async () => {
  const h = await harness({ startupParameterDrop: ['GEQO'] });
  try {
    const sent: Array<readonly [string, string]> = [
      ['user', 'alice'],
      ['database', 'dev'],
      ['statement_timeout', '3000'],
      ['lock_timeout', '2s'],
      ['idle_in_transaction_session_timeout', '5000'],
      ['app.tenant', 'acme'],
      ['Geqo', 'off'],
      ['idp_type', 'AzureAD'],
      ['client_protocol_version', '3'],
      ['options', '-c work_mem=1GB -c app.region=eu'],
    ];
    assert.match(await login(h, sent), /Z$/);
    assert.deepEqual(h.upstream.calls[0]?.parameters, [
      ['statement_timeout', '3000'],
      ['lock_timeout', '2s'],
      ['idle_in_transaction_session_timeout', '5000'],
      ['app.tenant', 'acme'],
      ['options', '-c work_mem=1GB -c app.region=eu'],
    ]);
    // A reload replaces the drop list for new connections.
    h.server.setStartupParameterDrop(['statement_timeout']);
    assert.match(await login(h, [['user', 'alice'], ['database', 'dev'], ['statement_timeout', '1'], ['geqo', 'on']]), /Z$/);
    assert.deepEqual(h.upstream.calls[1]?.parameters, [['geqo', 'on']]);
  } finally {
    await h.close();
  }
});

test('the upstream\'s refusal of a setting reaches the client byte for byte, with no credentials retry', async () => {
  const h = await harness();
  try {
    const refusal = message('E', Buffer.from('SFATAL\0VFATAL\0C42704\0Munrecognized configuration parameter "nosuch_param"\0Fguc.c\0L7000\0Rset_config_option\0\0'));
    h.upstream.failures.push(
      new UpstreamLoginError(UpstreamLoginErrorCode.Auth, 'upstream refused the login (SQLSTATE 42704)', { upstreamSqlstate: '42704', upstreamMessage: 'x', settingRefusal: refusal }),
    );
    const c = await tlsClient(h.port);
    c.write(startupPacket([['user', 'alice'], ['database', 'dev'], ['nosuch_param', '1']]));
    await c.readMessage();
    c.write(passwordPacket(testPassword));
    const m = await c.readMessage();
    assert.deepEqual(message(m.type, m.body), refusal);
    await c.waitClose();
    assert.equal(h.auth.invalidations, 0);
    assert.equal(h.upstream.calls.length, 1);
    assert.ok(h.events.includes('login:failed:upstream'), h.events.join());
  } finally {
    await h.close();
  }
});

test('an upstream refusal that is not about a setting is still 08006', async () => {
  const h = await harness();
  try {
    h.upstream.failures.push(new UpstreamLoginError(UpstreamLoginErrorCode.Auth, 'upstream refused the login (SQLSTATE 3D000)', { upstreamSqlstate: '3D000', upstreamMessage: 'database "dev" does not exist' }));
    const c = await tlsClient(h.port);
    c.write(startupPacket([['user', 'alice'], ['database', 'dev']]));
    await c.readMessage();
    c.write(passwordPacket(testPassword));
    const m = await c.readMessage();
    assert.equal(m.type, 'E');
    assert.match(m.body.toString('utf8'), /C08006\0Mcould not connect to the database\0/);
    await c.waitClose();
  } finally {
    await h.close();
  }
});
