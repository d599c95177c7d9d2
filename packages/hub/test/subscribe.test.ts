import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SubscribedMessage } from '@megaphone/protocol';
import { Hub } from '../src/index.js';
import { FakeSink, settle } from './fake-sink.js';
import { TestBus } from './test-bus.js';

function setup(opts: { maxQueueBytes?: number; maxSubs?: number } = {}) {
  const bus = new TestBus();
  const hub = new Hub({ bus, maxQueueBytes: opts.maxQueueBytes ?? 1 << 20, maxSubscriptionsPerConnection: opts.maxSubs ?? 64 });
  return { bus, hub };
}

async function publishN(bus: TestBus, channel: string, n: number, from = 0): Promise<void> {
  for (let i = 0; i < n; i++) await bus.publish(channel, JSON.stringify({ i: from + i }));
}

test('a plain subscribe replies subscribed with the latest position, then gets live publications in order', async () => {
  const { bus, hub } = setup();
  await publishN(bus, 'a', 3);
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await publishN(bus, 'a', 5);
  await settle();
  const [sub] = sink.of('subscribed') as SubscribedMessage[];
  assert.equal(sub?.id, 1);
  assert.equal(sub?.offset, 3);
  assert.equal(sub?.recovered, undefined);
  assert.deepEqual(sink.offsets('a'), [4, 5, 6, 7, 8]);
  assert.equal(sink.messages()[0]?.op, 'subscribed');
  await hub.close();
});

test('history N replays the last N publications, then live, without a duplicate', async () => {
  const { bus, hub } = setup();
  await publishN(bus, 'a', 10);
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a', history: 4 });
  await publishN(bus, 'a', 2);
  await settle();
  assert.deepEqual(sink.offsets('a'), [7, 8, 9, 10, 11, 12]);
  const [sub] = sink.of('subscribed') as SubscribedMessage[];
  assert.equal(sub?.offset, 10);
  await hub.close();
});

test('since after missing 50 publications gets exactly those 50, then live, while publishing goes on', async () => {
  const { bus, hub } = setup();
  const other = new FakeSink();
  await hub.connect(other).subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  const pos = await bus.publish('a', '1');
  await publishN(bus, 'a', 50);
  bus.historyDelay = () => 10;
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  const joining = conn.subscribe({ op: 'subscribe', id: 7, channel: 'a', since: pos });
  // Publications keep coming while the history read is on its way back.
  for (let i = 0; i < 10; i++) {
    await publishN(bus, 'a', 1);
    await new Promise((r) => setTimeout(r, 2));
  }
  await joining;
  await publishN(bus, 'a', 3);
  await settle();
  const [sub] = sink.of('subscribed') as SubscribedMessage[];
  assert.equal(sub?.recovered, true);
  assert.ok(sub !== undefined && sub.offset >= 51 && sub.offset <= 61);
  assert.deepEqual(sink.offsets('a'), Array.from({ length: 63 }, (_, i) => i + 2));
  assert.deepEqual(other.offsets('a'), Array.from({ length: 64 }, (_, i) => i + 1));
  await hub.close();
});

test('since with another epoch or beyond history replies recovered:false with the current position', async () => {
  const bus = new TestBus(new (await import('@megaphone/bus')).MemoryBus({ history: () => ({ size: 10, ttlMs: 60_000 }) }));
  const hub = new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 64 });
  const pos = await bus.publish('a', '1');
  await publishN(bus, 'a', 30);
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a', since: pos });
  await conn.subscribe({ op: 'subscribe', id: 2, channel: 'b', since: { epoch: 'nope', offset: 3 } });
  await publishN(bus, 'a', 1);
  await settle();
  const subs = sink.of('subscribed') as SubscribedMessage[];
  assert.deepEqual(subs.map((s) => [s.channel, s.recovered, s.offset]), [['a', false, 31], ['b', false, 0]]);
  assert.deepEqual(sink.offsets('a'), [32]);
  await hub.close();
});

test('unsubscribe replies with the id and stops delivery', async () => {
  const { bus, hub } = setup();
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await publishN(bus, 'a', 1);
  await settle();
  await conn.unsubscribe({ op: 'unsubscribe', id: 2, channel: 'a' });
  await publishN(bus, 'a', 1);
  await settle();
  assert.deepEqual(sink.offsets('a'), [1]);
  assert.deepEqual(sink.of('unsubscribed'), [{ op: 'unsubscribed', id: 2, channel: 'a' }]);
  await hub.close();
});

test('the server can end a subscription with a reason; channels() lists what is held', async () => {
  const { bus, hub } = setup();
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await conn.subscribe({ op: 'subscribe', id: 2, channel: 'b' });
  assert.deepEqual(conn.channels(), ['a', 'b']);
  await conn.end('a', 'forbidden');
  await conn.end('never', 'forbidden');
  await publishN(bus, 'a', 1);
  await publishN(bus, 'b', 1);
  await settle();
  assert.deepEqual(conn.channels(), ['b']);
  assert.deepEqual(sink.offsets('a'), []);
  assert.deepEqual(sink.offsets('b'), [1]);
  assert.deepEqual(sink.of('unsubscribed'), [{ op: 'unsubscribed', channel: 'a', reason: 'forbidden' }]);
  await hub.close();
});

test('publications of one turn reach each connection as one write, messages joined by newlines', async () => {
  const { bus, hub } = setup();
  const sinks = [new FakeSink(), new FakeSink(), new FakeSink()];
  for (const s of sinks) {
    const c = hub.connect(s);
    await c.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
    await c.subscribe({ op: 'subscribe', id: 2, channel: 'b' });
  }
  await settle();
  for (const s of sinks) s.writes.length = 0;
  for (let i = 0; i < 20; i++) {
    void bus.publish('a', String(i));
    void bus.publish('b', String(i));
  }
  await settle();
  for (const s of sinks) {
    assert.equal(s.writes.length, 1);
    assert.deepEqual(s.offsets('a'), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.deepEqual(s.offsets('b'), Array.from({ length: 20 }, (_, i) => i + 1));
  }
  await hub.close();
});

test('subscribers at the same position share one joined buffer per turn', async () => {
  const { bus, hub } = setup();
  const sinks = [new FakeSink(), new FakeSink()];
  for (const s of sinks) await hub.connect(s).subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await settle();
  for (const s of sinks) s.writes.length = 0;
  for (let i = 0; i < 5; i++) void bus.publish('a', String(i));
  await settle();
  assert.equal(sinks[0]!.writes.length, 1);
  assert.equal(sinks[0]!.writes[0], sinks[1]!.writes[0]);
  await hub.close();
});

test('send queues control messages in order with the rest', async () => {
  const { bus, hub } = setup();
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  conn.send({ op: 'welcome', node: 'n1', session: 's', heartbeatMs: 1000 });
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await publishN(bus, 'a', 1);
  await settle();
  conn.send({ op: 'pong', id: 2 });
  await settle();
  assert.deepEqual(sink.messages().map((m) => m.op), ['welcome', 'subscribed', 'message', 'pong']);
  await hub.close();
});

test('subscribing twice to a channel on one connection is a bad_request; the limit is too_many_subscriptions', async () => {
  const { hub } = setup({ maxSubs: 2 });
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await conn.subscribe({ op: 'subscribe', id: 2, channel: 'a' });
  await conn.subscribe({ op: 'subscribe', id: 3, channel: 'b' });
  await conn.subscribe({ op: 'subscribe', id: 4, channel: 'c' });
  await settle();
  const errors = sink.of('error');
  assert.deepEqual(errors.map((e) => e.op === 'error' && [e.id, e.code]), [[2, 'bad_request'], [4, 'too_many_subscriptions']]);
  assert.equal(hub.stats().subscriptions, 2);
  await hub.close();
});

test('a history failure answers history_unavailable and leaves no subscription behind', async () => {
  const { bus, hub } = setup();
  bus.failHistory = true;
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a', history: 5 });
  await settle();
  const [err] = sink.of('error');
  assert.equal(err?.op === 'error' && err.code, 'history_unavailable');
  assert.equal(hub.stats().subscriptions, 0);
  assert.equal(hub.stats().channels, 0);
  await hub.close();
});
