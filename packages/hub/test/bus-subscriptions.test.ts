import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hub } from '../src/index.js';
import { FakeSink, quiesce, settle } from './fake-sink.js';
import { TestBus } from './test-bus.js';

function setup() {
  const bus = new TestBus();
  const hub = new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 64 });
  return { bus, hub };
}

test('one bus subscription per channel whatever the number of subscribers, released on the last unsubscribe or close', async () => {
  const { bus, hub } = setup();
  const conns = Array.from({ length: 50 }, () => hub.connect(new FakeSink()));
  await Promise.all(conns.map((c, i) => c.subscribe({ op: 'subscribe', id: i, channel: 'a' })));
  assert.equal(bus.subscribeCalls, 1);
  assert.deepEqual([...bus.subscribed], ['a']);
  assert.equal(hub.stats().channels, 1);
  assert.equal(hub.stats().subscriptions, 50);
  for (const c of conns.slice(0, 25)) await c.unsubscribe({ op: 'unsubscribe', id: 99, channel: 'a' });
  assert.equal(hub.stats().subscriptions, 25);
  for (const c of conns.slice(25, 49)) c.close();
  await settle();
  assert.equal(bus.unsubscribeCalls, 0);
  conns[49]!.close();
  conns[49]!.close();
  for (const c of conns.slice(0, 25)) c.close();
  await settle();
  assert.equal(bus.unsubscribeCalls, 1);
  assert.deepEqual([...bus.subscribed], []);
  assert.deepEqual(
    { channels: hub.stats().channels, subscriptions: hub.stats().subscriptions, connections: hub.stats().connections },
    { channels: 0, subscriptions: 0, connections: 0 },
  );
  await hub.close();
});

test('concurrent first subscribers share one slow bus subscribe and all get live publications', async () => {
  const { bus, hub } = setup();
  bus.subscribeDelayMs = 30;
  const sinks = Array.from({ length: 10 }, () => new FakeSink());
  const joins = sinks.map((s, i) => hub.connect(s).subscribe({ op: 'subscribe', id: i, channel: 'a' }));
  await Promise.all(joins);
  await bus.publish('a', '1');
  await settle();
  assert.equal(bus.subscribeCalls, 1);
  for (const s of sinks) assert.deepEqual(s.offsets('a'), [1]);
  await hub.close();
});

test('subscribe, unsubscribe, subscribe in quick succession leaves exactly one bus subscription', async () => {
  const { bus, hub } = setup();
  bus.subscribeDelayMs = 10;
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  const s1 = conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  const u1 = conn.unsubscribe({ op: 'unsubscribe', id: 2, channel: 'a' });
  const s2 = conn.subscribe({ op: 'subscribe', id: 3, channel: 'a' });
  await Promise.all([s1, u1, s2]);
  await settle();
  // The second subscribe raced the first's pending join: it is refused or it succeeds, but the
  // bus ends up subscribed exactly when the connection is.
  const subscribedOnConn = hub.stats().subscriptions === 1;
  assert.equal(bus.subscribed.has('a'), subscribedOnConn);
  const conn2 = hub.connect(new FakeSink());
  await conn2.subscribe({ op: 'subscribe', id: 1, channel: 'b' });
  await conn2.unsubscribe({ op: 'unsubscribe', id: 2, channel: 'b' });
  await conn2.subscribe({ op: 'subscribe', id: 3, channel: 'b' });
  await settle();
  assert.equal(bus.subscribed.has('b'), true);
  await bus.publish('b', '1');
  await settle();
  assert.equal(bus.subscribeCalls - bus.unsubscribeCalls, subscribedOnConn ? 2 : 1);
  await hub.close();
});

test('a connection closed while its subscribe waits for the bus leaves nothing behind', async () => {
  const { bus, hub } = setup();
  bus.subscribeDelayMs = 20;
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  const joining = conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  conn.close();
  await joining;
  await quiesce(bus);
  assert.equal(sink.writes.length, 0);
  assert.equal(bus.subscribed.has('a'), false);
  assert.equal(hub.stats().channels, 0);
  await hub.close();
});
