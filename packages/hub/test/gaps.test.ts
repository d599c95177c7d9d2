import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBus } from '@megaphone/bus';
import type { GapMessage, ServerMessage } from '@megaphone/protocol';
import { Hub, type HubMetrics } from '../src/index.js';
import { FakeSink, settle } from './fake-sink.js';
import { TestBus } from './test-bus.js';

function counting() {
  const counts: Record<string, number> = {};
  const bump = (k: string, n = 1) => {
    counts[k] = (counts[k] ?? 0) + n;
  };
  const metrics: Partial<HubMetrics> = {
    gap: (o) => bump(`gap:${o}`),
    epochChanged: () => bump('epoch'),
    dropped: (r, n) => bump(`dropped:${r}`, n),
  };
  return { counts, metrics };
}

async function setup(historySize = 1000) {
  const bus = new TestBus(new MemoryBus({ history: () => ({ size: historySize, ttlMs: 3_600_000 }) }));
  const { counts, metrics } = counting();
  const hub = new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 64, metrics });
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  return { bus, hub, sink, conn, counts };
}

async function publish(bus: TestBus, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await bus.publish('a', '{}');
}

/** Messages after `subscribed`, as `offset` numbers and `gap@offset` strings. */
function stream(msgs: ServerMessage[]): (number | string)[] {
  return msgs.flatMap<number | string>((m) => (m.op === 'message' ? [m.offset] : m.op === 'gap' ? [`gap@${m.offset}`] : []));
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

test('a publication the bus lost is filled from history, in order', async () => {
  const { bus, hub, sink, counts } = await setup();
  bus.drop = (p) => p.offset === 5 || p.offset === 6;
  await publish(bus, 10);
  await settle(5);
  assert.deepEqual(sink.offsets('a'), range(1, 10));
  assert.equal(counts['gap:filled'], 1);
  await hub.close();
});

test('publications arriving late and out of order are delivered once, in order', async () => {
  const { bus, hub, sink } = await setup();
  bus.hold = (p) => p.offset === 3 || p.offset === 4;
  await publish(bus, 8);
  await settle();
  bus.release();
  await publish(bus, 2);
  await settle(5);
  assert.deepEqual(sink.offsets('a'), range(1, 10));
  await hub.close();
});

test('duplicate publications from the bus are dropped and counted', async () => {
  const { bus, hub, sink, counts } = await setup();
  bus.duplicate = true;
  await publish(bus, 5);
  await settle();
  assert.deepEqual(sink.offsets('a'), range(1, 5));
  assert.equal(counts['dropped:duplicate'], 5);
  await hub.close();
});

test('a hole history no longer covers is announced with a gap message, then the stream continues', async () => {
  const { bus, hub, sink, counts } = await setup(5);
  bus.drop = (p) => p.offset >= 3 && p.offset <= 20;
  await publish(bus, 21);
  await settle(5);
  const gaps = sink.of('gap') as GapMessage[];
  assert.equal(gaps.length, 1);
  assert.equal(gaps[0]!.reason, 'history_expired');
  assert.deepEqual(stream(sink.messages()), [1, 2, 'gap@16', 17, 18, 19, 20, 21]);
  assert.equal(counts['gap:lost'], 1);
  await hub.close();
});

test('after a bus reconnect (resubscribed) what was missed is filled without waiting for the next publication', async () => {
  const { bus, hub, sink } = await setup();
  await publish(bus, 2);
  bus.drop = () => true;
  await publish(bus, 5);
  bus.drop = () => false;
  bus.resubscribed(['a']);
  await settle(5);
  assert.deepEqual(sink.offsets('a'), range(1, 7));
  await hub.close();
});

test('an epoch change is announced with gap epoch_changed and the new epoch, then the new stream follows', async () => {
  const { bus, hub, sink, counts } = await setup();
  await publish(bus, 3);
  await settle();
  const oldEpoch = (sink.of('subscribed')[0] as { epoch: string }).epoch;
  await bus.reset();
  await settle(5);
  await publish(bus, 2);
  await settle(5);
  const gaps = sink.of('gap') as GapMessage[];
  assert.equal(gaps.length, 1);
  assert.equal(gaps[0]!.reason, 'epoch_changed');
  assert.notEqual(gaps[0]!.epoch, oldEpoch);
  assert.deepEqual(stream(sink.messages()), [1, 2, 3, 'gap@0', 1, 2]);
  assert.equal(counts.epoch, 1);
  await hub.close();
});

test('an epoch change noticed from a publication (no resubscribe) is announced too', async () => {
  const { bus, hub, sink } = await setup();
  await publish(bus, 3);
  await settle();
  await bus.reset(undefined, { notify: false });
  await publish(bus, 2);
  await settle(5);
  assert.deepEqual(stream(sink.messages()), [1, 2, 3, 'gap@0', 1, 2]);
  await hub.close();
});

test('a late publication from an epoch that has since changed is dropped, not delivered or refetched forever', async () => {
  const { bus, hub, sink } = await setup();
  bus.hold = (p) => p.offset === 3;
  await publish(bus, 3);
  await settle();
  bus.hold = () => false;
  await bus.reset();
  await publish(bus, 2);
  await settle(5);
  bus.release();
  await publish(bus, 1);
  await settle(10);
  const calls = bus.historyCalls;
  await settle(10);
  assert.equal(bus.historyCalls, calls, 'no history reads once settled');
  assert.deepEqual(stream(sink.messages()), [1, 2, 'gap@0', 1, 2, 3]);
  await hub.close();
});

test('a history that claims to recover but starts past the hole is treated as a lost hole, not trusted', async () => {
  const { bus, hub, sink } = await setup();
  bus.drop = (p) => p.offset >= 3 && p.offset <= 5;
  // Entries before 6 were trimmed, yet `since` answers still say recovered.
  bus.mangleHistory = (r) => ({ ...r, publications: r.publications.filter((p) => p.offset >= 6) });
  await publish(bus, 8);
  await settle(10);
  assert.deepEqual(stream(sink.messages()), [1, 2, 'gap@5', 6, 7, 8]);
  const late = new FakeSink();
  const conn = hub.connect(late);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a', since: { epoch: (sink.of('subscribed')[0] as { epoch: string }).epoch, offset: 1 } });
  await settle(10);
  assert.deepEqual(stream(late.messages()), ['gap@5', 6, 7, 8]);
  await hub.close();
});
