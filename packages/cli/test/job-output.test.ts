import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abnormalEnd, isLifecycle, isOutput } from '../src/job-output.js';
import { describeGap, formatDuration, relativeTime } from '../src/describe.js';

test('how a run ended: its own exit code, or the reason it has none', () => {
  const exited = { run: 'r1', event: 'exited' as const };
  assert.equal(abnormalEnd({ ...exited, code: 3, outcome: 'failure' }), undefined);
  assert.equal(abnormalEnd({ ...exited, code: 0, outcome: 'success' }), undefined);
  assert.equal(abnormalEnd({ ...exited, code: null, signal: 'SIGTERM', timedOut: true, outcome: 'timeout' }), 'timed out (SIGTERM)');
  assert.equal(abnormalEnd({ ...exited, code: null, signal: 'SIGKILL', outcome: 'killed' }), 'was killed by SIGKILL');
  assert.equal(abnormalEnd({ ...exited, code: null, signal: 'SIGTERM', stopped: true, outcome: 'killed' }), 'was stopped (SIGTERM)');
  assert.equal(abnormalEnd({ ...exited, code: null, error: 'spawn ENOENT', outcome: 'failure' }), 'could not start: spawn ENOENT');
  assert.equal(abnormalEnd({ ...exited, code: null, outcome: 'lost' }), 'was lost (the producer running it went away)');
});

test('publications of a cmd: channel are told apart by shape', () => {
  assert.equal(isOutput({ run: 'r', stream: 'stdout', lines: ['a'] }), true);
  assert.equal(isOutput({ run: 'r', stream: 'stdout', lines: [1] }), false);
  assert.equal(isOutput({ run: 'r', event: 'started' }), false);
  assert.equal(isLifecycle({ run: 'r', event: 'exited', code: 0 }), true);
  assert.equal(isLifecycle({ run: 'r', event: 'paused' }), false);
  assert.equal(isLifecycle(null), false);
});

test('a gap is one line that says what was lost and where the stream goes on', () => {
  assert.equal(
    describeGap({ channel: 'cmd:a', kind: 'reset', from: { epoch: 'e1', offset: 7 }, epoch: 'e1', to: 20, reason: 'history_expired' }),
    'gap on cmd:a: publications 8–20 no longer in history (history_expired); continuing after e1:20',
  );
  assert.equal(
    describeGap({ channel: 'cmd:a', kind: 'reset', from: { epoch: 'e1', offset: 7 }, epoch: 'e2', to: 0, reason: 'epoch_changed' }),
    'gap on cmd:a: the channel restarted (epoch e1 → e2); what came after offset 7 is lost, continuing after e2:0',
  );
  assert.equal(describeGap({ channel: 'x', kind: 'lost', from: { epoch: 'e', offset: 4 }, epoch: 'e', to: 5, reason: 'overflow' }), 'gap on x: publication 5 lost (overflow); continuing after e:5');
  assert.deepEqual([999, 1500, 61_000, 3_700_000].map(formatDuration), ['999ms', '1.5s', '1m 01s', '1h 01m']);
  assert.equal(relativeTime('2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:00:05Z')), '5s ago');
  assert.equal(relativeTime('2026-01-01T00:01:00Z', Date.parse('2026-01-01T00:00:00Z')), 'in 1m 00s');
  assert.equal(relativeTime(null, 0), '');
});
