import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hub } from '../src/index.js';
import { FakeSink, PositionalFraming, lines, settle } from './fake-sink.js';
import { TestBus } from './test-bus.js';

test('a framing without run gets one message at a time, each with the connection positions including it', async () => {
  const bus = new TestBus();
  const hub = new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 64 });
  await bus.publish('a', '1');
  const framing = new PositionalFraming();
  const sink = new FakeSink(framing);
  const conn = hub.connect(sink);
  conn.send({ op: 'welcome', node: 'n', session: 's', heartbeatMs: 1000 });
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a', history: 1 });
  await conn.subscribe({ op: 'subscribe', id: 2, channel: 'b' });
  for (let i = 0; i < 3; i++) void bus.publish('a', JSON.stringify({ i }));
  void bus.publish('b', '"x"');
  await settle();
  assert.deepEqual(
    framing.seen.map((e) => e.op),
    ['welcome', 'subscribed', 'message', 'subscribed', 'message', 'message', 'message', 'message'],
  );
  assert.equal(framing.seen[0]!.positions.size, 0, 'no position before any subscription has one');
  const messages = sink.messages();
  const epochA = (messages[1] as { epoch: string }).epoch;
  const last = framing.seen.at(-1)!.positions;
  assert.deepEqual([...last.keys()], ['a', 'b'], 'in subscription order');
  assert.deepEqual(last.get('a'), { epoch: epochA, offset: 4 });
  assert.equal(last.get('b')?.offset, 1);
  messages.forEach((m, i) => {
    if (m.op === 'message') assert.equal(framing.seen[i]!.positions.get(m.channel)?.offset, m.offset, 'its own offset');
  });
  assert.deepEqual(sink.offsets('a'), [1, 2, 3, 4]);
  await hub.close();
});

test('subscribers at the same position on a shared framing get the same chunk, framed once per turn', async () => {
  const bus = new TestBus();
  let runs = 0;
  const counted = { ...lines, run: (...args: Parameters<NonNullable<typeof lines.run>>) => (runs++, lines.run!(...args)) };
  const hub = new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 64 });
  const sinks = Array.from({ length: 5 }, () => new FakeSink(counted));
  for (const s of sinks) await hub.connect(s).subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await settle();
  const before = sinks.map((s) => s.writes.length);
  for (let i = 0; i < 3; i++) void bus.publish('a', JSON.stringify({ i }));
  await settle();
  const chunks = sinks.map((s, i) => s.writes.slice(before[i]!));
  assert.equal(runs, 1);
  for (const c of chunks) {
    assert.equal(c.length, 1, 'one write per connection');
    assert.equal(c[0], chunks[0]![0], 'the same Buffer');
  }
  assert.deepEqual(sinks[0]!.offsets('a'), [1, 2, 3]);
  await hub.close();
});

test('connections with different framings on one channel each get their own', async () => {
  const bus = new TestBus();
  const hub = new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 64 });
  const shared = new FakeSink();
  const framing = new PositionalFraming();
  const positional = new FakeSink(framing);
  await hub.connect(shared).subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await hub.connect(positional).subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  for (let i = 0; i < 4; i++) void bus.publish('a', JSON.stringify({ i }));
  await settle();
  assert.deepEqual(shared.offsets('a'), [1, 2, 3, 4]);
  assert.deepEqual(positional.offsets('a'), [1, 2, 3, 4]);
  assert.deepEqual(framing.seen.filter((e) => e.op === 'message').map((e) => e.positions.get('a')?.offset), [1, 2, 3, 4]);
  await hub.close();
});
