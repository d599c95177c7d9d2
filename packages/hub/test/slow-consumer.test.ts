import { waitFor } from '@megaphone/testing';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBus } from '@megaphone/bus';
import { Hub, type HubConnection, type SlowConsumerOutcome } from '../src/index.js';
import { FakeSink, settle } from './fake-sink.js';
import { TestBus } from './test-bus.js';

const CAP = 256 * 1024;
const PAYLOAD = JSON.stringify({ line: 'x'.repeat(1000) });

async function setup(historySize: number, conflate?: (ch: string) => boolean) {
  const bus = new TestBus(new MemoryBus({ history: () => ({ size: historySize, ttlMs: 3_600_000 }) }));
  const events: SlowConsumerOutcome[] = [];
  const hub = new Hub({
    bus,
    maxQueueBytes: CAP,
    maxSubscriptionsPerConnection: 64,
    ...(conflate ? { conflate } : {}),
    metrics: { slowConsumer: (o) => events.push(o) },
  });
  const slow = new FakeSink();
  const healthy = new FakeSink();
  const slowConn = hub.connect(slow);
  const healthyConn = hub.connect(healthy);
  await slowConn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await healthyConn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  return { bus, hub, slow, healthy, slowConn, events };
}

/** Publishes `total` publications, `perTurn` per event-loop turn; returns the largest queue seen. */
async function publishTurns(bus: TestBus, hub: Hub, total: number, perTurn: number, channel = 'a'): Promise<number> {
  let maxQueued = 0;
  for (let sent = 0; sent < total; ) {
    for (let i = 0; i < perTurn && sent < total; i++, sent++) void bus.publish(channel, PAYLOAD);
    await settle(1);
    for (const q of hub.queuedBytesPerConnection()) maxQueued = Math.max(maxQueued, q);
  }
  return maxQueued;
}

async function drainUntilIdle(sink: FakeSink, conn: HubConnection): Promise<void> {
  for (let i = 0; i < 200; i++) {
    sink.drain();
    conn.drained();
    await settle(2);
  }
}

test('a client that stops reading while 6 MB are published stays bounded, leaves the other unaffected and is caught up in place', async () => {
  const total = 6000; // ~6 MB of ~1 KB publications
  const { bus, hub, slow, healthy, slowConn, events } = await setup(total + 10);
  slow.stalled = true;
  const perTurn = 50;
  const maxQueued = await publishTurns(bus, hub, total, perTurn);
  const batchBytes = perTurn * (PAYLOAD.length + 100);
  assert.ok(maxQueued <= CAP + batchBytes, `queued ${maxQueued} stays under cap + one batch`);
  assert.deepEqual(healthy.offsets('a'), Array.from({ length: total }, (_, i) => i + 1));
  assert.ok(slow.offsets('a').length < total / 2, 'the stalled client got only what fit under its cap');
  assert.deepEqual(events, ['lagged']);
  await drainUntilIdle(slow, slowConn);
  assert.deepEqual(slow.offsets('a'), Array.from({ length: total }, (_, i) => i + 1));
  assert.equal(slow.closed, undefined);
  assert.deepEqual(events, ['lagged', 'caught_up']);
  // Live again afterwards.
  await bus.publish('a', '{}');
  await settle();
  assert.equal(slow.offsets('a').at(-1), total + 1);
  await hub.close();
});

test('a slow consumer whose missed publications left history is closed with 4000', async () => {
  const { bus, hub, slow, healthy, slowConn, events } = await setup(100);
  slow.stalled = true;
  await publishTurns(bus, hub, 1000, 50);
  assert.equal(healthy.offsets('a').length, 1000);
  await drainUntilIdle(slow, slowConn);
  assert.equal(slow.closed?.code, 4000);
  assert.ok(events.includes('disconnected'));
  assert.equal(hub.stats().connections, 1);
  const got = slow.offsets('a');
  assert.ok(got.every((o, i) => o === i + 1), 'what it got before the close is in order');
  await hub.close();
});

test('a lagging client on a conflated channel gets only the latest publication when it drains', async () => {
  const { bus, hub, slow, healthy, slowConn, events } = await setup(10, (ch) => ch === 'a');
  slow.stalled = true;
  await publishTurns(bus, hub, 1000, 50);
  const before = slow.offsets('a').length;
  await drainUntilIdle(slow, slowConn);
  const got = slow.offsets('a');
  assert.equal(got.length, before + 1);
  assert.equal(got.at(-1), 1000);
  assert.ok(got.every((o, i) => i === 0 || o > got[i - 1]!));
  assert.equal(slow.closed, undefined);
  assert.ok(events.includes('conflated'));
  assert.equal(healthy.offsets('a').length, 1000);
  await bus.publish('a', '{}');
  await settle();
  assert.equal(slow.offsets('a').at(-1), 1001);
  await hub.close();
});

test('a stalled client resumes from the periodic check even if its transport never reports a drain', async () => {
  const { bus, hub, slow, events } = await setup(5000);
  slow.stalled = true;
  await publishTurns(bus, hub, 1000, 50);
  slow.drain();
  // No drain event comes: the hub's periodic lag check must find it (LAG_CHECK_MS).
  await waitFor('the stalled client caught up by the periodic check', () => slow.offsets('a').length >= 1000, { intervalMs: 20 });
  assert.deepEqual(slow.offsets('a'), Array.from({ length: 1000 }, (_, i) => i + 1));
  assert.deepEqual(events, ['lagged', 'caught_up']);
  await hub.close();
});
