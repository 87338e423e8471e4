import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalEndpoint, decodeReplicaPid, encodeReplicaPid, issuedPid, markForwarded, maxSessionNumber, replicaTag, replicaTagBits } from './replica-pid.js';

const tagArb = fc.integer({ min: 0, max: 2 ** replicaTagBits - 1 });
const sessionArb = fc.integer({ min: 1, max: maxSessionNumber });

test('encode/decode round-trips every tag and session number; issued pids are positive int32 with the hop flag clear', () => {
  fc.assert(
    fc.property(tagArb, sessionArb, (tag, sessionNumber) => {
      const pid = encodeReplicaPid(tag, sessionNumber);
      assert.ok(pid >= 1 && pid < 2 ** 30, `pid ${pid}`);
      assert.deepEqual(decodeReplicaPid(pid), { tag, sessionNumber, isForwarded: false });
    }),
  );
});

test('the hop flag survives the wire as an int32 and is the only change', () => {
  fc.assert(
    fc.property(tagArb, sessionArb, (tag, sessionNumber) => {
      const pid = encodeReplicaPid(tag, sessionNumber);
      const forwarded = markForwarded(pid);
      const wire = Buffer.alloc(4);
      wire.writeInt32BE(forwarded);
      const back = wire.readInt32BE();
      assert.ok(back > 0, 'still positive on the wire');
      assert.deepEqual(decodeReplicaPid(back), { tag, sessionNumber, isForwarded: true });
      assert.equal(issuedPid(back), pid);
      assert.equal(issuedPid(pid), pid);
    }),
  );
});

test('pids no replica issues decode to undefined', () => {
  for (const pid of [0, -1, -(2 ** 31), 2 ** 31, 1.5, 2 ** 16, 5 * 2 ** 16]) assert.equal(decodeReplicaPid(pid), undefined, String(pid));
  fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (pid) => decodeReplicaPid(pid) === undefined || pid > 0));
});

test('encode refuses out-of-range fields', () => {
  assert.throws(() => encodeReplicaPid(2 ** replicaTagBits, 1), RangeError);
  assert.throws(() => encodeReplicaPid(-1, 1), RangeError);
  assert.throws(() => encodeReplicaPid(0, 0), RangeError);
  assert.throws(() => encodeReplicaPid(0, maxSessionNumber + 1), RangeError);
});

test('the tag is a stable 14-bit hash of the canonical endpoint', () => {
  // Fixed values: every replica of a fleet, whatever its version, must compute the same tag.
  assert.equal(replicaTag('10.0.0.7:5439'), replicaTag('10.0.0.7:5439'));
  assert.notEqual(replicaTag('10.0.0.7:5439'), replicaTag('10.0.0.8:5439'));
  fc.assert(fc.property(fc.string(), (s) => Number.isInteger(replicaTag(s)) && replicaTag(s) >= 0 && replicaTag(s) < 2 ** replicaTagBits));
  const tags = new Set(Array.from({ length: 200 }, (_, i) => replicaTag(`10.1.${i >> 8}.${i & 255}:5439`)));
  assert.ok(tags.size > 190, `200 addresses give ${tags.size} distinct tags`);
});

test('canonicalEndpoint lower-cases hosts and compresses IPv6', () => {
  assert.equal(canonicalEndpoint('RSProxy-A', 5439), 'rsproxy-a:5439');
  assert.equal(canonicalEndpoint('10.0.0.7', 5439), '10.0.0.7:5439');
  assert.equal(canonicalEndpoint('[2001:DB8:0:0:0:0:0:1]', 5439), '[2001:db8::1]:5439');
  assert.equal(canonicalEndpoint('2001:db8::1', 5439), '[2001:db8::1]:5439');
});
