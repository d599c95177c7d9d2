import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/index.js';

test('a ManualClock runs only what falls due as time is advanced, in deadline order, with now() at each deadline', () => {
  const clock = new ManualClock(1000);
  const ran: string[] = [];
  clock.setTimeout(() => ran.push(`b@${clock.now()}`), 50);
  clock.setTimeout(() => ran.push(`a@${clock.now()}`), 10);
  const cancelled = clock.setTimeout(() => ran.push('cancelled'), 20);
  clock.setTimeout(() => ran.push(`late@${clock.now()}`), 500);
  clock.clearTimeout(cancelled);
  assert.equal(clock.armed, 3);
  assert.equal(clock.nextDueIn, 10);
  clock.advance(100);
  assert.deepEqual(ran, ['a@1010', 'b@1050']);
  assert.equal(clock.now(), 1100);
  assert.equal(clock.armed, 1);
  assert.equal(clock.nextDueIn, 400);
});

test('a timer armed by a callback runs within the same advance when it falls due in it', () => {
  const clock = new ManualClock(0);
  const ticks: number[] = [];
  const tick = (): void => {
    ticks.push(clock.now());
    clock.setTimeout(tick, 30);
  };
  clock.setTimeout(tick, 30);
  clock.advance(100);
  assert.deepEqual(ticks, [30, 60, 90]);
  assert.equal(clock.nextDueIn, 20);
  clock.advance(0);
  assert.deepEqual(ticks, [30, 60, 90]);
});

test('a new ManualClock starts at the real time and has nothing armed', () => {
  const before = Date.now();
  const clock = new ManualClock();
  assert.ok(clock.now() >= before && clock.now() <= Date.now());
  assert.equal(clock.armed, 0);
  assert.equal(clock.nextDueIn, undefined);
});
