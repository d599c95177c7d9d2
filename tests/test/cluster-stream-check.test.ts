import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamEvent } from '../src/cluster/recording-client.js';
import { PublishLog, checkStream } from '../src/cluster/stream-check.js';

// The cluster and fault tests are only as strict as this checker: it must reject every way a
// stream can go wrong silently, and accept every explicitly announced discontinuity.

const node = 'gw-1';
const sub = (epoch: string, offset: number, extra: Partial<Extract<StreamEvent, { kind: 'subscribed' }>> = {}): StreamEvent => ({ kind: 'subscribed', channel: 'c', epoch, offset, node, ...extra });
const msg = (offset: number, data: unknown = { n: offset }): StreamEvent => ({ kind: 'message', channel: 'c', offset, data, node });
const gap = (epoch: string, offset: number, reason = 'history_expired'): StreamEvent => ({ kind: 'gap', channel: 'c', epoch, offset, reason, node });

test('consecutive offsets after a fresh subscribe pass with no notices', () => {
  const r = checkStream([sub('e1', 3), msg(4), msg(5), msg(6)]);
  assert.deepEqual(r.problems, []);
  assert.equal(r.notices, 0);
  assert.deepEqual(r.position, { epoch: 'e1', offset: 6 });
});

test('a silent hole, a duplicate and a reordering are each reported', () => {
  assert.match(checkStream([sub('e1', 0), msg(1), msg(3)]).problems.join(), /silent hole: expected offset 2, got 3/);
  assert.match(checkStream([sub('e1', 0), msg(1), msg(2), msg(2)]).problems.join(), /duplicate or reordered: expected offset 3, got 2/);
  assert.match(checkStream([sub('e1', 0), msg(2), msg(1)]).problems.join(), /silent hole/);
});

test('a gap notice explains the hole after it, in the same epoch or a new one', () => {
  assert.deepEqual(checkStream([sub('e1', 0), msg(1), gap('e1', 7), msg(8)]).problems, []);
  const reset = checkStream([sub('e1', 0), msg(1), msg(2), gap('e2', 0, 'epoch_changed'), msg(1), msg(2)]);
  assert.deepEqual(reset.problems, []);
  assert.equal(reset.notices, 1);
  assert.deepEqual(reset.position, { epoch: 'e2', offset: 2 });
});

test('an epoch reset without a notice is reported (offsets restart silently)', () => {
  assert.match(checkStream([sub('e1', 0), msg(1), msg(2), msg(1)]).problems.join(), /duplicate or reordered/);
});

test('a resume with recovered:true must continue exactly where the client stood', () => {
  const since = { epoch: 'e1', offset: 2 };
  assert.deepEqual(checkStream([sub('e1', 0), msg(1), msg(2), sub('e1', 9, { since, recovered: true }), msg(3), msg(4)]).problems, []);
  assert.match(checkStream([sub('e1', 0), msg(1), msg(2), sub('e1', 9, { since, recovered: true }), msg(4)]).problems.join(), /silent hole/);
  assert.match(
    checkStream([sub('e1', 0), msg(1), msg(2), sub('e2', 9, { since, recovered: true })]).problems.join(),
    /recovered:true but epoch e1 → e2/,
  );
});

test('a resume with recovered:false is an explicit notice: the stream restarts from the reply', () => {
  const r = checkStream([sub('e1', 0), msg(1), sub('e2', 5, { since: { epoch: 'e1', offset: 1 }, recovered: false }), msg(6)]);
  assert.deepEqual(r.problems, []);
  assert.equal(r.notices, 1);
});

test('a message whose data is not what was published at that position is reported', () => {
  const log = new PublishLog();
  log.add({ channel: 'c', epoch: 'e1', offset: 1 }, { n: 1 });
  log.add({ channel: 'c', epoch: 'e1', offset: 2 }, { n: 2 });
  assert.deepEqual(checkStream([sub('e1', 0), msg(1), msg(2)], log).problems, []);
  assert.match(checkStream([sub('e1', 0), msg(1), msg(2, { n: 99 })], log).problems.join(), /offset 2 in e1 carries/);
});

test('the publish log reports one position handed out twice', () => {
  const log = new PublishLog();
  log.add({ channel: 'c', epoch: 'e1', offset: 1 }, { n: 1 });
  log.add({ channel: 'c', epoch: 'e1', offset: 1 }, { n: 2 });
  assert.equal(log.conflicts.length, 1);
});
