import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBus } from '@megaphone/bus';
import { Hub } from '../src/index.js';
import { FakeSink, PositionalFraming, quiesce, settle } from './fake-sink.js';
import { TestBus } from './test-bus.js';

const PAYLOAD = JSON.stringify({ line: 'y'.repeat(500) });

function setup(cap = 16 * 1024) {
  const bus = new TestBus(new MemoryBus({ history: () => ({ size: 5000, ttlMs: 3_600_000 }) }));
  const hub = new Hub({ bus, maxQueueBytes: cap, maxSubscriptionsPerConnection: 8 });
  return { bus, hub };
}

async function publishTurns(bus: TestBus, channel: string, total: number, perTurn: number): Promise<void> {
  for (let sent = 0; sent < total; ) {
    for (let i = 0; i < perTurn && sent < total; i++, sent++) void bus.publish(channel, PAYLOAD);
    await settle(1);
  }
}

test('unsubscribing while catching up stops delivery and releases the channel', async () => {
  const { bus, hub } = setup();
  bus.historyDelay = () => 5;
  const sink = new FakeSink();
  sink.stalled = true;
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await publishTurns(bus, 'a', 200, 20);
  sink.drain();
  conn.drained();
  await conn.unsubscribe({ op: 'unsubscribe', id: 2, channel: 'a' });
  const count = sink.offsets('a').length;
  await quiesce(bus);
  assert.equal(sink.offsets('a').length, count);
  assert.deepEqual(sink.messages().at(-1), { op: 'unsubscribed', id: 2, channel: 'a' });
  assert.equal(hub.stats().channels, 0);
  assert.deepEqual([...bus.subscribed], []);
  await hub.close();
});

test('a connection framed per message (SSE) over its cap stays bounded and is caught up in order', async () => {
  const { bus, hub } = setup();
  const sink = new FakeSink(new PositionalFraming());
  sink.stalled = true;
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  let maxQueued = 0;
  for (let sent = 0; sent < 500; ) {
    for (let i = 0; i < 10; i++, sent++) void bus.publish('a', PAYLOAD);
    await settle(1);
    maxQueued = Math.max(maxQueued, ...hub.queuedBytesPerConnection());
  }
  assert.ok(maxQueued <= 16 * 1024 + 10 * 800, `queued ${maxQueued}`);
  for (let i = 0; i < 100; i++) {
    sink.drain();
    conn.drained();
    await settle(2);
  }
  assert.deepEqual(sink.offsets('a'), Array.from({ length: 500 }, (_, i) => i + 1));
  await hub.close();
});

test('a subscriber joining while the node fills a gap gets every publication once', async () => {
  const { bus, hub } = setup(1 << 20);
  bus.historyDelay = () => 10;
  const early = new FakeSink();
  await hub.connect(early).subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  bus.drop = (p) => p.offset === 3;
  for (let i = 0; i < 6; i++) await bus.publish('a', '1');
  bus.drop = () => false;
  // The node is now reading history for offset 3; publications keep coming and a client joins.
  const late = new FakeSink();
  const joining = hub.connect(late).subscribe({ op: 'subscribe', id: 1, channel: 'a', history: 10 });
  for (let i = 0; i < 4; i++) await bus.publish('a', '1');
  await joining;
  await quiesce(bus);
  const all = Array.from({ length: 10 }, (_, i) => i + 1);
  assert.deepEqual(early.offsets('a'), all);
  const got = late.offsets('a');
  assert.deepEqual(got, all.slice(all.indexOf(got[0]!)));
  assert.equal(got.at(-1), 10);
  await hub.close();
});

test('a sink that throws on a live write is closed without costing the channel’s other subscribers the batch', async () => {
  const { bus, hub } = setup();
  // Single-subscription connections are written during distribution; the failing one sits
  // between healthy ones so that removing it mid-distribution would skip a neighbour.
  const sinks = [new FakeSink(), new FakeSink(), new FakeSink(), new FakeSink()];
  const broken = sinks[1]!;
  for (const s of sinks) await hub.connect(s).subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await settle();
  assert.equal(hub.stats().subscriptions, 4);
  broken.write = () => {
    throw new Error('socket gone');
  };
  // Each turn's publication reaches every healthy subscriber in that turn (a skipped one would
  // only get it later, by catching up from history).
  for (let offset = 1; offset <= 2; offset++) {
    void bus.publish('a', PAYLOAD);
    await settle();
    for (const s of sinks) if (s !== broken) assert.deepEqual(s.offsets('a'), Array.from({ length: offset }, (_, i) => i + 1));
  }
  assert.equal(hub.stats().subscriptions, 3);
  assert.equal(hub.stats().connections, 3);
  await hub.close();
});
