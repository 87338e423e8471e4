import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageFramer } from '../protocol/framer.js';
import type { Frame } from '../protocol/framer.js';
import { be, fe } from '../../testkit/query-wire.js';
import { listsTempSchema, probeRequest, ProbeReplyReader, resetRequest, ResetReplyReader, resetSql } from './reset.js';
import type { ProbeOutcome, ResetOutcome } from './reset.js';

function frames(bytes: Buffer): Frame[] {
  const framer = new MessageFramer({ maxMessageBytes: 1 << 20 });
  framer.push(bytes);
  const out: Frame[] = [];
  for (let f = framer.next(); f !== undefined; f = framer.next()) out.push({ type: f.type, body: Buffer.from(f.body), raw: Buffer.from(f.raw) });
  assert.equal(framer.bufferedBytes, 0);
  return out;
}

function readAll<T>(reader: { push(f: Frame): T | undefined }, bytes: Buffer): { outcome: T | undefined; framesLeft: number } {
  const all = frames(bytes);
  for (let i = 0; i < all.length; i++) {
    const outcome = reader.push(all[i]!);
    if (outcome !== undefined) return { outcome, framesLeft: all.length - i - 1 };
  }
  return { outcome: undefined, framesLeft: 0 };
}

const user = 'IAMA:alice';
const queryReply = (row: Array<string | null> = [user, user, '{pg_catalog,public}']): Buffer =>
  Buffer.concat([
    be.commandComplete('RESET'),
    be.parameterStatus('application_name', ''),
    be.rowDescription(['session_user', 'current_user', 'current_schemas']),
    be.dataRow(row),
    be.commandComplete('SELECT 1'),
    be.readyForQuery('I'),
  ]);

test('the request: only the Query when no statement is open', () => {
  assert.deepEqual(resetRequest([]), fe.query(resetSql));
});

test('the request: Close per open statement (exact bytes), one Sync, then the Query', () => {
  const odd = Buffer.from([0x73, 0xff]);
  assert.deepEqual(resetRequest([Buffer.from('s1'), odd]), Buffer.concat([fe.close('S', 's1'), fe.close('S', odd), fe.sync(), fe.query(resetSql)]));
});

test('a clean reply is ok, with and without closes; notices and ParameterStatus are ignored', () => {
  assert.deepEqual(readAll(new ResetReplyReader(0, user), queryReply()), { outcome: { result: 'ok' }, framesLeft: 0 });
  const withCloses = Buffer.concat([be.closeComplete(), be.notice(), be.closeComplete(), be.readyForQuery('I'), queryReply()]);
  assert.deepEqual(readAll(new ResetReplyReader(2, user), withCloses), { outcome: { result: 'ok' }, framesLeft: 0 });
});

test('another session_user or current_user is session_user', () => {
  for (const row of [['IAMA:bob', user, '{public}'], [user, 'admin', '{public}'], [null, user, '{public}']]) {
    assert.deepEqual(readAll(new ResetReplyReader(0, user), queryReply(row)).outcome, { result: 'session_user' }, JSON.stringify(row));
  }
});

test('a temporary schema in current_schemas(true) is temp_schema', () => {
  assert.deepEqual(readAll(new ResetReplyReader(0, user), queryReply([user, user, '{pg_temp_3,pg_catalog,public}'])).outcome, { result: 'temp_schema' });
  assert.deepEqual(readAll(new ResetReplyReader(0, user), queryReply([user, user, null])).outcome, { result: 'temp_schema' }, 'unknown counts as present');
  assert.equal(listsTempSchema('{pg_catalog,"pg_temp_12",public}'), true);
  assert.equal(listsTempSchema('{pg_catalog,public,my_pg_temp}'), false);
  assert.equal(listsTempSchema('{pg_catalog,public}'), false);
});

test('an ErrorResponse, a missing step, a wrong status or an extra reply is reset_error', () => {
  const isError = (o: ResetOutcome | undefined): boolean => o?.result === 'reset_error';
  assert.ok(isError(readAll(new ResetReplyReader(0, user), Buffer.concat([be.errorResponse('25P02'), be.readyForQuery('E')])).outcome));
  assert.ok(isError(readAll(new ResetReplyReader(1, user), Buffer.concat([be.readyForQuery('I'), queryReply()])).outcome), 'CloseComplete missing');
  assert.ok(isError(readAll(new ResetReplyReader(1, user), Buffer.concat([be.closeComplete(), be.readyForQuery('T'), queryReply()])).outcome));
  const inTx = Buffer.concat([be.commandComplete('RESET'), be.rowDescription(['a', 'b', 'c']), be.dataRow([user, user, '{}']), be.commandComplete('SELECT 1'), be.readyForQuery('T')]);
  assert.ok(isError(readAll(new ResetReplyReader(0, user), inTx).outcome));
  const twoCols = Buffer.concat([be.commandComplete('RESET'), be.rowDescription(['a', 'b']), be.dataRow([user, user]), be.commandComplete('SELECT 1'), be.readyForQuery('I')]);
  assert.ok(isError(readAll(new ResetReplyReader(0, user), twoCols).outcome));
  const r = new ResetReplyReader(0, user);
  assert.deepEqual(readAll(r, queryReply()).outcome, { result: 'ok' });
  assert.ok(isError(r.push(frames(be.readyForQuery('I'))[0]!)));
});

test('the reply is undecided until its last ReadyForQuery', () => {
  const r = new ResetReplyReader(0, user);
  const all = frames(queryReply());
  for (const f of all.slice(0, -1)) assert.equal(r.push(f), undefined);
  assert.deepEqual(r.push(all.at(-1)!), { result: 'ok' });
});

test('the probe: an empty query answered by EmptyQueryResponse and ReadyForQuery I', () => {
  assert.deepEqual(probeRequest, fe.query(''));
  assert.deepEqual(readAll(new ProbeReplyReader(), Buffer.concat([be.emptyQueryResponse(), be.readyForQuery('I')])), { outcome: { result: 'ok' }, framesLeft: 0 });
  const bad: Buffer[] = [Buffer.concat([be.emptyQueryResponse(), be.readyForQuery('T')]), Buffer.concat([be.errorResponse('57P01'), be.readyForQuery('I')]), be.readyForQuery('I')];
  for (const reply of bad) assert.equal((readAll(new ProbeReplyReader(), reply).outcome as ProbeOutcome).result, 'probe_error');
});
