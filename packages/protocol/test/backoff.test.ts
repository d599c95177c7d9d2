import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, EQUAL_JITTER, ExponentialBackoff, FULL_JITTER } from '../src/index.js';

test('the window doubles per attempt up to the cap', () => {
  const top = (): number => 0.999999;
  const policy = { initialMs: 100, maxMs: 1000, jitter: FULL_JITTER };
  assert.deepEqual([0, 1, 2, 3, 4, 50, 5000].map((n) => backoffDelay(policy, n, top)), [99, 199, 399, 799, 999, 999, 999]);
});

test('jitter is the random share of the window: full jitter from 0, equal jitter from half', () => {
  const policy = { initialMs: 1000, maxMs: 1000, jitter: FULL_JITTER };
  assert.equal(backoffDelay(policy, 0, () => 0), 0);
  assert.equal(backoffDelay({ ...policy, jitter: EQUAL_JITTER }, 0, () => 0), 500);
  assert.equal(backoffDelay({ ...policy, jitter: EQUAL_JITTER }, 0, () => 0.5), 750);
  assert.equal(backoffDelay({ ...policy, jitter: 0 }, 0, () => 0.3), 1000);
  for (let i = 0; i < 1000; i++) {
    const d = backoffDelay({ initialMs: 100, maxMs: 2000, jitter: EQUAL_JITTER }, 3);
    assert.ok(d >= 400 && d < 800, String(d));
  }
});

test('a negative attempt is the first one', () => {
  assert.equal(backoffDelay({ initialMs: 100, maxMs: 1000, jitter: 0 }, -3), 100);
});

test('ExponentialBackoff counts attempts and starts over after reset', () => {
  const b = new ExponentialBackoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
  assert.deepEqual([b.next(), b.next(), b.next()], [100, 200, 400]);
  assert.equal(b.attempts, 3);
  b.reset();
  assert.equal(b.attempts, 0);
  assert.equal(b.next(), 100);
});
