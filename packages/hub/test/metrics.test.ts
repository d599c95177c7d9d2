import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hub, type HubMetrics } from '../src/index.js';
import { FakeSink, settle } from './fake-sink.js';
import { TestBus } from './test-bus.js';

test('metrics: publications, deliveries, frames and bytes, latency, recoveries and errors are reported', async () => {
  const calls = {
    received: [] as string[],
    delivered: new Map<string, number>(),
    frames: 0,
    bytes: 0,
    latencies: [] as Array<[number, number]>,
    replays: [] as Array<[number, number]>,
    recoveries: [] as string[],
    errors: [] as string[],
  };
  const metrics: HubMetrics = {
    publicationReceived: (ns) => calls.received.push(ns),
    delivered: (ns, n) => calls.delivered.set(ns, (calls.delivered.get(ns) ?? 0) + n),
    written: (f, b) => {
      calls.frames += f;
      calls.bytes += b;
    },
    deliveryLatency: (s, n) => calls.latencies.push([s, n]),
    replayLatency: (s, n) => calls.replays.push([s, n]),
    slowConsumer: () => {},
    dropped: () => {},
    recovery: (r) => calls.recoveries.push(r),
    gap: () => {},
    epochChanged: () => {},
    clientError: (c) => calls.errors.push(c),
  };
  let now = 0;
  const bus = new TestBus();
  const hub = new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 1, metrics, now: () => now });
  const sinks = [new FakeSink(), new FakeSink(), new FakeSink()];
  const conns = sinks.map((s) => hub.connect(s));
  for (const c of conns) await c.subscribe({ op: 'subscribe', id: 1, channel: 'cmd:x' });
  await conns[0]!.subscribe({ op: 'subscribe', id: 2, channel: 'other' });
  await conns[1]!.subscribe({ op: 'subscribe', id: 3, channel: 'cmd:y', since: { epoch: 'gone', offset: 1 } });
  await settle();
  for (const s of sinks) s.writes.length = 0;
  calls.frames = 0;
  calls.bytes = 0;
  for (let i = 0; i < 5; i++) void bus.publish('cmd:x', '1');
  now = Date.now() + 250; // the flush happens "250 ms after" the publications' time
  await settle();
  assert.deepEqual(calls.received, ['cmd', 'cmd', 'cmd', 'cmd', 'cmd']);
  assert.equal(calls.delivered.get('cmd'), 15);
  assert.equal(calls.frames, 3);
  assert.equal(calls.bytes, sinks.reduce((n, s) => n + s.writes.reduce((m, w) => m + w.length, 0), 0));
  // Once per publication, weighted by the 3 subscribers it was handed to.
  assert.deepEqual(calls.latencies.map(([, n]) => n), [3, 3, 3, 3, 3]);
  assert.ok(calls.latencies.every(([s]) => s >= 0.2 && s < 5), `latencies in seconds: ${calls.latencies.join(',')}`);
  assert.equal(calls.replays.length, 0, 'live deliveries are not replays');
  const late = hub.connect(new FakeSink());
  now = Date.now() + 60_000;
  await late.subscribe({ op: 'subscribe', id: 4, channel: 'cmd:x', history: 3 });
  await settle();
  assert.equal(calls.replays.length, 3, 'one per publication replayed from history');
  assert.ok(calls.replays.every(([s, n]) => n === 1 && s >= 59 && s < 70), `replay latencies: ${calls.replays.join(' ')}`);
  assert.deepEqual(calls.errors, ['too_many_subscriptions', 'too_many_subscriptions']);
  await hub.close();
});

test('stats count connections, channels, subscriptions and queued bytes; close releases every bus subscription', async () => {
  const bus = new TestBus();
  const hub = new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 8 });
  const stalled = new FakeSink();
  stalled.stalled = true;
  const conn = hub.connect(stalled);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await conn.subscribe({ op: 'subscribe', id: 2, channel: 'b' });
  hub.connect(new FakeSink());
  await bus.publish('a', '"hello"');
  await settle();
  const s = hub.stats();
  assert.deepEqual(
    { connections: s.connections, channels: s.channels, subscriptions: s.subscriptions, lagging: s.laggingConnections },
    { connections: 2, channels: 2, subscriptions: 2, lagging: 0 },
  );
  const written = stalled.writes.reduce((n, w) => n + w.length, 0);
  assert.equal(s.queuedBytes, written);
  assert.deepEqual([...hub.queuedBytesPerConnection()].sort((x, y) => x - y), [0, written]);
  await hub.close();
  assert.deepEqual([...bus.subscribed], []);
  assert.equal(hub.stats().connections, 0);
});

test('options out of range are refused at construction', () => {
  const bus = new TestBus();
  assert.throws(() => new Hub({ bus, maxQueueBytes: 0, maxSubscriptionsPerConnection: 8 }), /maxQueueBytes/);
  assert.throws(() => new Hub({ bus, maxQueueBytes: 1024, maxSubscriptionsPerConnection: 1.5 }), /maxSubscriptionsPerConnection/);
});
