import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExpiryQueue, type ExpiryClock } from '../src/connections/expiry-queue.js';
import { httpGet, startTestGateway } from './helpers.js';

/** A clock whose timers the test fires; counts how many are armed at once. */
class FakeClock implements ExpiryClock {
  t = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  maxArmed = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    this.maxArmed = Math.max(this.maxArmed, this.timers.size);
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  get armed(): number {
    return this.timers.size;
  }
  advance(to: number): void {
    this.t = to;
    for (;;) {
      const due = [...this.timers].find(([, x]) => x.at <= this.t);
      if (due === undefined) return;
      this.timers.delete(due[0]);
      due[1].fn();
    }
  }
}

test('one timer serves every deadline; entries fire in deadline order, moved and removed ones as told', () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const q = new ExpiryQueue<string>((x) => fired.push(x), clock);
  const entries = new Map<string, ReturnType<typeof q.add>>();
  for (let i = 0; i < 1000; i++) entries.set(`c${i}`, q.add(`c${i}`, 1000 + ((i * 7919) % 1000)));
  assert.equal(clock.maxArmed, 1, 'never more than one timer armed');
  q.move(entries.get('c0')!, 5000); // refreshed
  q.remove(entries.get('c1')!); // closed
  clock.advance(1499);
  assert.ok(fired.length > 0 && fired.every((x, i) => i === 0 || entries.get(fired[i - 1]!)!.at <= entries.get(x)!.at));
  clock.advance(2000);
  assert.equal(fired.length, 998);
  assert.ok(!fired.includes('c0') && !fired.includes('c1'));
  assert.equal(q.size, 1);
  clock.advance(5000);
  assert.deepEqual(fired.slice(-1), ['c0']);
  assert.equal(q.size, 0);
  assert.equal(clock.armed, 0, 'no timer when nothing is due');
  assert.equal(clock.maxArmed, 1);
});

test('a far deadline is re-armed when Node’s longest timer is reached', () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const q = new ExpiryQueue<string>((x) => fired.push(x), clock);
  q.add('far', 3 * 2_147_483_647);
  clock.advance(2_147_483_647);
  assert.deepEqual(fired, []);
  assert.equal(clock.armed, 1);
  clock.advance(3 * 2_147_483_647);
  assert.deepEqual(fired, ['far']);
});

test('the public port answers only the host names it serves', async () => {
  const t = await startTestGateway({ GATEWAY_ALLOWED_HOSTS: 'megaphone.example' });
  try {
    for (const path of ['/', '/sse?channel=uptime']) {
      assert.equal((await httpGet(`${t.base}${path}`, { host: 'rebound.attacker.example' })).status, 403, path);
    }
    assert.equal((await httpGet(`${t.base}/`, { host: 'megaphone.example' })).status, 200);
    assert.equal((await httpGet(`${t.base}/`)).status, 403, '127.0.0.1 is not in the list');
  } finally {
    await t.close();
  }
  const d = await startTestGateway({});
  try {
    assert.equal((await httpGet(`${d.base}/`)).status, 200, 'loopback is served by default');
    assert.equal((await httpGet(`${d.base}/`, { host: 'localhost:1' })).status, 200);
    assert.equal((await httpGet(`${d.base}/`, { host: 'evil.example' })).status, 403);
  } finally {
    await d.close();
  }
});
