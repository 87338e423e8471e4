import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageBoundaryTracker } from './message-boundary.js';

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

// A DataRow whose body ends with the bytes of a ReadyForQuery: a tail check would be fooled, the tracker is not.
const trap = message('D', Buffer.from([0, 1, 0, 0, 0, 6, 0x5a, 0, 0, 0, 5, 0x49]));
const stream = Buffer.concat([message('T', Buffer.from('row-description')), trap, message('C', Buffer.from('SELECT 1\0')), message('Z', Buffer.from('I'))]);
const boundaries = new Set<number>();
for (let at = 0, i = 0; i < 4; i++) {
  at += 1 + stream.readInt32BE(at + 1);
  boundaries.add(at);
}

test('isAtBoundary is true exactly at message ends, for a stream cut at every offset into two chunks', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const tracker = new MessageBoundaryTracker();
    tracker.feed(stream.subarray(0, cut));
    assert.equal(tracker.isAtBoundary, cut === 0 || boundaries.has(cut), `after ${cut} bytes`);
    tracker.feed(stream.subarray(cut));
    assert.equal(tracker.isAtBoundary, true, `whole stream, cut at ${cut}`);
  }
});

test('isAtBoundary survives one-byte chunks', () => {
  const tracker = new MessageBoundaryTracker();
  for (let i = 0; i < stream.length; i++) {
    tracker.feed(stream.subarray(i, i + 1));
    assert.equal(tracker.isAtBoundary, boundaries.has(i + 1), `after byte ${i + 1}`);
  }
});

test('a declared length below 4 makes the stream untrackable for good', () => {
  const tracker = new MessageBoundaryTracker();
  tracker.feed(Buffer.from([0x51, 0, 0, 0, 3]));
  assert.equal(tracker.isAtBoundary, false);
  tracker.feed(message('Z', Buffer.from('I')));
  assert.equal(tracker.isAtBoundary, false);
});

test('countedMessages counts headers of the given types only, across any split', () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const tracker = new MessageBoundaryTracker('ZT');
    tracker.feed(stream.subarray(0, cut));
    tracker.feed(stream.subarray(cut));
    // T and Z start messages; the Z byte inside the DataRow's body does not.
    assert.equal(tracker.countedMessages, 2, `cut at ${cut}`);
  }
  const oneByOne = new MessageBoundaryTracker('D');
  for (let i = 0; i < stream.length; i++) oneByOne.feed(stream.subarray(i, i + 1));
  assert.equal(oneByOne.countedMessages, 1);
  const none = new MessageBoundaryTracker();
  none.feed(stream);
  assert.equal(none.countedMessages, 0);
});

test('lastType is the type byte of the last message header fed, across any split', () => {
  const withTerminate = Buffer.concat([stream, message('X', Buffer.alloc(0))]);
  for (let cut = 0; cut <= withTerminate.length; cut++) {
    const tracker = new MessageBoundaryTracker();
    tracker.feed(withTerminate.subarray(0, cut));
    tracker.feed(withTerminate.subarray(cut));
    assert.equal(String.fromCharCode(tracker.lastType), 'X', `cut at ${cut}`);
  }
  assert.equal(new MessageBoundaryTracker().lastType, 0);
});
