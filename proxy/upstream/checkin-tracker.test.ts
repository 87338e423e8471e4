import { test } from 'node:test';
import assert from 'node:assert/strict';
import { be, fe, splitAt } from '../../testkit/query-wire.js';
import { CheckinTracker, maxStatementNameBytes, maxTrackedStatements } from './checkin-tracker.js';
import type { CheckinVerdict } from './checkin-tracker.js';

type Step = { c: Buffer } | { u: Buffer };
const c = (...m: Buffer[]): Step => ({ c: Buffer.concat(m) });
const u = (...m: Buffer[]): Step => ({ u: Buffer.concat(m) });

function run(steps: readonly Step[], tracker = new CheckinTracker()): CheckinVerdict {
  for (const s of steps) {
    if ('c' in s) tracker.feedFromClient(s.c);
    else tracker.feedFromUpstream(s.u);
  }
  return tracker.verdict();
}

const names = (v: CheckinVerdict): string[] => {
  assert.equal(v.keep, true, `expected keep, got ${JSON.stringify(v)}`);
  return v.keep ? v.openStatements.map((b) => b.toString('latin1')).sort() : [];
};

test('a clean simple-query session ending with Terminate is kept with nothing to close', () => {
  const v = run([c(fe.query('SELECT 1')), u(be.rowDescription(['?column?']), be.dataRow(['1']), be.commandComplete('SELECT 1'), be.readyForQuery('I')), c(fe.terminate())]);
  assert.deepEqual(v, { keep: true, openStatements: [] });
});

test('no Terminate, a half-sent message, or bytes after the Terminate: unclean_end', () => {
  const done = [c(fe.query('SELECT 1')), u(be.commandComplete('SELECT 1'), be.readyForQuery('I'))];
  assert.deepEqual(run(done), { keep: false, reason: 'unclean_end' });
  assert.deepEqual(run([...done, c(fe.query('SELECT 2').subarray(0, 7))]), { keep: false, reason: 'unclean_end' });
  assert.deepEqual(run([...done, c(fe.terminate(), fe.sync())]), { keep: false, reason: 'unclean_end' });
  assert.deepEqual(run([...done, c(Buffer.from([0x58, 0, 0, 0, 5, 0]))]), { keep: false, reason: 'unclean_end' }, 'a Terminate with a body');
  assert.deepEqual(run([...done, c(Buffer.from([0x51, 0, 0, 0, 2]))]), { keep: false, reason: 'unclean_end' }, 'a length below 4');
});

test('feedFromClient forwards everything before the Terminate and nothing from it on, even when its header is split', () => {
  const t = new CheckinTracker();
  const q = fe.query('SELECT 1');
  assert.equal(t.feedFromClient(q), q.length);
  t.feedFromUpstream(Buffer.concat([be.commandComplete('SELECT 1'), be.readyForQuery('I')]));
  const both = Buffer.concat([fe.sync(), fe.terminate()]);
  assert.equal(t.feedFromClient(both.subarray(0, 6)), 5, 'the Sync goes, the X byte stays');
  assert.equal(t.feedFromClient(both.subarray(6)), 0);
  t.feedFromUpstream(be.readyForQuery('I'));
  assert.deepEqual(t.verdict(), { keep: true, openStatements: [] });
});

test('the last ReadyForQuery must be I: T and E are in_transaction', () => {
  for (const status of ['T', 'E'] as const) {
    assert.deepEqual(run([c(fe.query('BEGIN')), u(be.commandComplete('BEGIN'), be.readyForQuery(status)), c(fe.terminate())]), { keep: false, reason: 'in_transaction' });
  }
  assert.deepEqual(run([c(fe.query('BEGIN')), u(be.readyForQuery('T')), c(fe.query('COMMIT')), u(be.readyForQuery('I')), c(fe.terminate())]).keep, true);
});

test('a reply still owed is outstanding_reply: an unanswered Query, or extended messages without Sync', () => {
  assert.deepEqual(run([c(fe.query('SELECT pg_sleep(9)'), fe.terminate())]), { keep: false, reason: 'outstanding_reply' });
  assert.deepEqual(run([c(fe.parse('', 'SELECT 1'), fe.bind(), fe.execute(), fe.terminate())]), { keep: false, reason: 'outstanding_reply' });
  assert.deepEqual(run([c(fe.parse('', 'SELECT 1'), fe.bind(), fe.execute(), fe.flush()), u(be.parseComplete(), be.bindComplete(), be.commandComplete('SELECT 1')), c(fe.terminate())]), { keep: false, reason: 'outstanding_reply' });
  assert.deepEqual(run([c(fe.query('SELECT 1')), u(be.commandComplete('SELECT 1'), be.readyForQuery('I').subarray(0, 3)), c(fe.terminate())]), { keep: false, reason: 'outstanding_reply' }, 'a half-received reply');
  assert.equal(run([c(fe.parse('', 'SELECT 1'), fe.bind(), fe.execute(), fe.sync()), u(be.parseComplete(), be.bindComplete(), be.commandComplete('SELECT 1'), be.readyForQuery('I')), c(fe.terminate())]).keep, true);
});

test('a simple Query also ends a run of unsynced extended messages (one ReadyForQuery for all)', () => {
  const v = run([c(fe.parse('', 'SET x = 1'), fe.bind(), fe.execute(), fe.query('SELECT 1')), u(be.parseComplete(), be.bindComplete(), be.commandComplete('SET'), be.commandComplete('SELECT 1'), be.readyForQuery('I')), c(fe.terminate())]);
  assert.equal(v.keep, true);
});

test('COPY in and out: copy until CopyDone/CopyFail and the ReadyForQuery', () => {
  const copyIn = [c(fe.query('COPY t FROM STDIN')), u(be.copyInResponse()), c(fe.copyData('1\n'))];
  assert.deepEqual(run([...copyIn, c(fe.terminate())]), { keep: false, reason: 'copy' });
  assert.deepEqual(run([...copyIn, c(fe.copyDone(), fe.terminate())]), { keep: false, reason: 'outstanding_reply' }, 'CopyDone sent, reply not yet in');
  assert.equal(run([...copyIn, c(fe.copyDone()), u(be.commandComplete('COPY 1'), be.readyForQuery('I')), c(fe.terminate())]).keep, true);
  assert.equal(run([...copyIn, c(fe.copyFail()), u(be.errorResponse('57014'), be.readyForQuery('I')), c(fe.terminate())]).keep, true);
  const copyOut = [c(fe.query('COPY t TO STDOUT')), u(be.copyOutResponse(), be.copyData('1\n'))];
  assert.deepEqual(run([...copyOut, c(fe.terminate())]), { keep: false, reason: 'copy' });
  assert.equal(run([...copyOut, u(be.copyDone(), be.commandComplete('COPY 1'), be.readyForQuery('I')), c(fe.terminate())]).keep, true);
  assert.deepEqual(run([c(fe.query('START_REPLICATION')), u(be.copyBothResponse()), c(fe.copyDone(), fe.terminate())]), { keep: false, reason: 'copy' });
});

test('a forwarded cancel holds the session until it has settled', () => {
  const t = new CheckinTracker();
  const steps = [c(fe.query('SELECT 1')), u(be.errorResponse('57014'), be.readyForQuery('I')), c(fe.terminate())];
  t.cancelStarted();
  assert.deepEqual(run(steps, t), { keep: false, reason: 'cancel' });
  t.cancelSettled();
  assert.equal(t.verdict().keep, true);
  t.cancelSettled();
  assert.equal(t.verdict().keep, true, 'an extra settle does not go negative');
});

test('PREPARE, CALL, DECLARE CURSOR and LISTEN command tags taint the session; other tags do not', () => {
  const cases: Array<[string, string]> = [['PREPARE', 'prepare'], ['CALL', 'call'], ['DECLARE CURSOR', 'declare_cursor'], ['LISTEN', 'listen']];
  for (const [tag, reason] of cases) {
    const v = run([c(fe.query('x')), u(be.commandComplete(tag), be.readyForQuery('I')), c(fe.query('SELECT 1')), u(be.commandComplete('SELECT 1'), be.readyForQuery('I')), c(fe.terminate())]);
    assert.deepEqual(v, { keep: false, reason }, tag);
  }
  for (const tag of ['SELECT 1', 'PREPARE TRANSACTION', 'CALLX', 'UNLISTEN', 'DEALLOCATE', 'CLOSE CURSOR', 'SET', 'INSERT 0 1']) {
    assert.equal(run([c(fe.query('x')), u(be.commandComplete(tag), be.readyForQuery('I')), c(fe.terminate())]).keep, true, tag);
  }
});

test('named statements: Parse adds, a Close confirmed by its batch removes, unnamed ones are not listed', () => {
  const v = run([
    c(fe.parse('s1'), fe.parse('s2'), fe.parse(''), fe.sync()),
    u(be.parseComplete(), be.parseComplete(), be.parseComplete(), be.readyForQuery('I')),
    c(fe.close('S', 's1'), fe.close('P', 's2'), fe.sync()),
    u(be.closeComplete(), be.closeComplete(), be.readyForQuery('I')),
    c(fe.terminate()),
  ]);
  assert.deepEqual(names(v), ['s2']);
});

test('a Close in a batch that failed stays listed (it may have been skipped); closing a missing statement is harmless', () => {
  const v = run([
    c(fe.parse('s1'), fe.sync()),
    u(be.parseComplete(), be.readyForQuery('I')),
    c(fe.parse('', 'SELEC'), fe.close('S', 's1'), fe.sync()),
    u(be.errorResponse(), be.readyForQuery('I')),
    c(fe.terminate()),
  ]);
  assert.deepEqual(names(v), ['s1']);
});

test('Close then Parse of the same name in one batch leaves it open; a Close not yet answered keeps it listed', () => {
  const reparse = run([c(fe.parse('a'), fe.sync()), u(be.parseComplete(), be.readyForQuery('I')), c(fe.close('S', 'a'), fe.parse('a'), fe.sync()), u(be.closeComplete(), be.parseComplete(), be.readyForQuery('I')), c(fe.terminate())]);
  assert.deepEqual(names(reparse), ['a']);
  const t = new CheckinTracker();
  run([c(fe.parse('a'), fe.sync()), u(be.parseComplete(), be.readyForQuery('I')), c(fe.close('S', 'a'), fe.sync())], t);
  t.feedFromClient(fe.terminate());
  assert.deepEqual(t.verdict(), { keep: false, reason: 'outstanding_reply' });
});

test('statement names keep their exact bytes, even when not UTF-8', () => {
  const raw = Buffer.from([0x73, 0xff, 0xfe, 0x31]);
  const v = run([c(fe.parse(raw), fe.sync()), u(be.parseComplete(), be.readyForQuery('I')), c(fe.terminate())]);
  assert.equal(v.keep, true);
  if (v.keep) assert.deepEqual(v.openStatements, [raw]);
});

test('a statement name too long to follow, or too many names, taints the session as prepare', () => {
  const long = 'n'.repeat(maxStatementNameBytes + 1);
  assert.deepEqual(run([c(fe.parse(long), fe.sync()), u(be.parseComplete(), be.readyForQuery('I')), c(fe.terminate())]), { keep: false, reason: 'prepare' });
  const atLimit = 'n'.repeat(maxStatementNameBytes);
  assert.deepEqual(names(run([c(fe.parse(atLimit), fe.sync()), u(be.parseComplete(), be.readyForQuery('I')), c(fe.terminate())])), [atLimit]);
  const many = Array.from({ length: maxTrackedStatements + 1 }, (_, i) => fe.parse(`s${i}`));
  assert.deepEqual(run([c(...many, fe.sync()), u(be.readyForQuery('I')), c(fe.terminate())]), { keep: false, reason: 'prepare' });
});

test('isUpstreamBusy follows owed replies and COPY', () => {
  const t = new CheckinTracker();
  assert.equal(t.isUpstreamBusy, false);
  t.feedFromClient(fe.query('SELECT 1'));
  assert.equal(t.isUpstreamBusy, true);
  t.feedFromUpstream(Buffer.concat([be.commandComplete('SELECT 1'), be.readyForQuery('I')]));
  assert.equal(t.isUpstreamBusy, false);
  t.feedFromClient(fe.parse('', 'x'));
  assert.equal(t.isUpstreamBusy, true);
});

// One session exercising every tracked kind of message; the verdict must not depend on how the bytes were chunked.
const richClient = Buffer.concat([
  fe.parse('keep_me', 'SELECT 1'.repeat(40)),
  fe.parse('drop_me'),
  fe.bind('', 'keep_me'),
  fe.describe('P'),
  fe.execute(),
  fe.sync(),
  fe.close('S', 'drop_me'),
  fe.sync(),
  fe.query('COPY t FROM STDIN'),
  fe.copyData('1\n'),
  fe.copyDone(),
  fe.query('SELECT 1'),
  fe.terminate(),
]);
const richUpstream = Buffer.concat([
  be.parseComplete(),
  be.parseComplete(),
  be.bindComplete(),
  be.rowDescription(['a']),
  be.dataRow(['1']),
  be.commandComplete('SELECT 1'),
  be.readyForQuery('I'),
  be.closeComplete(),
  be.readyForQuery('I'),
  be.copyInResponse(),
  be.commandComplete('COPY 1'),
  be.readyForQuery('I'),
  be.notice(),
  be.commandComplete('SELECT 1'),
  be.readyForQuery('I'),
]);

test('the verdict is the same for every split point of either stream and for one-byte chunks', () => {
  const expected = run([c(richClient), u(richUpstream)]);
  assert.deepEqual(names(expected), ['keep_me']);
  for (let at = 0; at <= richClient.length; at++) {
    const t = new CheckinTracker();
    let forwarded = 0;
    for (const part of splitAt(richClient, [at])) forwarded += t.feedFromClient(part);
    assert.equal(forwarded, richClient.length - 5, `split ${at}: all but the Terminate forwarded`);
    t.feedFromUpstream(richUpstream);
    assert.deepEqual(t.verdict(), expected, `client split at ${at}`);
  }
  for (let at = 0; at <= richUpstream.length; at++) {
    const t = new CheckinTracker();
    t.feedFromClient(richClient);
    for (const part of splitAt(richUpstream, [at])) t.feedFromUpstream(part);
    assert.deepEqual(t.verdict(), expected, `upstream split at ${at}`);
  }
  const t = new CheckinTracker();
  for (let i = 0; i < richClient.length; i++) t.feedFromClient(richClient.subarray(i, i + 1));
  for (let i = 0; i < richUpstream.length; i++) t.feedFromUpstream(richUpstream.subarray(i, i + 1));
  assert.deepEqual(t.verdict(), expected);
});
