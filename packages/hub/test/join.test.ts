import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StreamPosition, SubscribeCommand, SubscribedMessage } from '@megaphone/protocol';
import { Hub } from '../src/index.js';
import { waitFor } from '@megaphone/testing';
import { FakeSink, quiesce } from './fake-sink.js';
import { withSeed } from './seeded.js';
import { TestBus } from './test-bus.js';

function consecutive(offsets: number[]): boolean {
  return offsets.every((o, i) => i === 0 || o === offsets[i - 1]! + 1);
}

test('subscribers joining with history, since or plain while publishing goes on get consecutive offsets to the end', () =>
  withSeed(async (random) => {
    const bus = new TestBus();
    bus.historyDelay = () => Math.floor(random() * 8);
    const hub = new Hub({ bus, maxQueueBytes: 1 << 22, maxSubscriptionsPerConnection: 64 });
    let published: StreamPosition = await bus.publish('a', '0');
    let running = true;
    const publisher = (async () => {
      while (running) {
        for (let i = 0; i < 1 + Math.floor(random() * 4); i++) published = await bus.publish('a', JSON.stringify({ v: published.offset }));
        await new Promise((r) => (random() < 0.5 ? setImmediate(r) : setTimeout(r, 1)));
      }
    })();
    const clients: { sink: FakeSink; cmd: SubscribeCommand }[] = [];
    const joins: Promise<void>[] = [];
    for (let i = 0; i < 150; i++) {
      const sink = new FakeSink();
      const kind = i % 3;
      const cmd: SubscribeCommand =
        kind === 0
          ? { op: 'subscribe', id: i, channel: 'a' }
          : kind === 1
            ? { op: 'subscribe', id: i, channel: 'a', history: 1 + (i % 20) }
            : { op: 'subscribe', id: i, channel: 'a', since: { epoch: published.epoch, offset: Math.max(0, published.offset - (i % 30)) } };
      clients.push({ sink, cmd });
      joins.push(hub.connect(sink).subscribe(cmd));
      await new Promise((r) => setTimeout(r, random() * 2));
    }
    await Promise.all(joins);
    // Publishing goes on after the last join (live delivery to every kind of joiner), then stops.
    const lastJoin = published.offset;
    await waitFor('20 publications after the last join', () => published.offset >= lastJoin + 20);
    running = false;
    await publisher;
    await quiesce(bus);
    const end = published.offset;
    assert.ok(end > 100, `publishing went on during the joins (${end} publications)`);
    for (const { sink, cmd } of clients) {
      const [sub] = sink.of('subscribed') as SubscribedMessage[];
      assert.ok(sub, `client ${cmd.id} got subscribed`);
      const offsets = sink.offsets('a');
      assert.ok(consecutive(offsets), `client ${cmd.id} (${JSON.stringify(cmd)}) offsets are consecutive: ${offsets.join(',')}`);
      assert.equal(offsets.at(-1), end, `client ${cmd.id} reached the end`);
      const expectedFirst =
        cmd.since !== undefined ? cmd.since.offset + 1 : cmd.history !== undefined ? Math.max(1, sub.offset - cmd.history + 1) : sub.offset + 1;
      assert.equal(offsets[0], expectedFirst, `client ${cmd.id} (${JSON.stringify(cmd)}) starts where it asked`);
      assert.equal(sink.of('gap').length, 0);
    }
    await hub.close();
  }));

test('on a busy channel with slow history reads, a joining subscriber catches up in one history round', async () => {
  const bus = new TestBus();
  const hub = new Hub({ bus, maxQueueBytes: 1 << 22, maxSubscriptionsPerConnection: 64 });
  const first = await bus.publish('a', '0');
  for (let i = 0; i < 100; i++) await bus.publish('a', '0');
  await hub.connect(new FakeSink()).subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  let running = true;
  const publisher = (async () => {
    while (running) {
      await bus.publish('a', '1');
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  bus.historyDelay = () => 25;
  const calls = bus.historyCalls;
  const sink = new FakeSink();
  await hub.connect(sink).subscribe({ op: 'subscribe', id: 1, channel: 'a', since: first });
  // Live publications reach the joiner after its one history round.
  const joinedAt = sink.offsets('a').at(-1) ?? 0;
  await waitFor('live publications after the join', () => (sink.offsets('a').at(-1) ?? 0) >= joinedAt + 10);
  running = false;
  await publisher;
  await quiesce(bus);
  assert.equal(bus.historyCalls - calls, 1, 'one history read: the live publications meanwhile were kept aside');
  const offsets = sink.offsets('a');
  assert.ok(consecutive(offsets));
  assert.equal(offsets[0], 2);
  assert.equal(offsets.at(-1), (await bus.inner.history('a', { limit: 0 })).offset);
  await hub.close();
});
