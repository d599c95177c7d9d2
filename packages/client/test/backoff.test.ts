import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, closeAction, retryAfterHint } from '../src/index.js';

test('full-jitter backoff draws from a window that doubles up to the cap', () => {
  const top = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => top.next()), [99, 199, 399, 799, 999, 999]);
  const bottom = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  assert.deepEqual([1, 2, 3].map(() => bottom.next()), [0, 0, 0]);
});

test('backoff starts over from the smallest window after reset', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.5 });
  b.next();
  b.next();
  b.next();
  b.reset();
  assert.equal(b.next(), 50);
});

test('a retry hint is a floor with jitter on top', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.5 });
  assert.equal(b.afterHint(1800), 1850);
});

test('close codes map to reconnect, fatal or unauthorized', () => {
  assert.deepEqual(closeAction(1001, '{"retryAfterMs":1800}'), { kind: 'reconnect', retryAfterMs: 1800 });
  assert.deepEqual(closeAction(1001, ''), { kind: 'reconnect' });
  for (const code of [4000, 4001, 1006, 1011, 1000]) assert.deepEqual(closeAction(code, ''), { kind: 'reconnect' });
  assert.deepEqual(closeAction(1008, 'origin'), { kind: 'fatal' });
  assert.deepEqual(closeAction(1009, ''), { kind: 'fatal' });
  assert.deepEqual(closeAction(4401, ''), { kind: 'unauthorized' });
});

test('retry hints that are not a non-negative number are ignored', () => {
  assert.equal(retryAfterHint('{"retryAfterMs":-5}'), undefined);
  assert.equal(retryAfterHint('{"retryAfterMs":"5"}'), undefined);
  assert.equal(retryAfterHint('{not json'), undefined);
  assert.equal(retryAfterHint('going away'), undefined);
  assert.equal(retryAfterHint('{"retryAfterMs":250}'), 250);
});
