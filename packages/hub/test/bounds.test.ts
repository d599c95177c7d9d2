import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryQuery, HistoryResult } from '@megaphone/bus';
import { CloseCode } from '@megaphone/protocol';
import { Hub } from '../src/index.js';
import { FakeSink, settle } from './fake-sink.js';
import { TestBus, memoryBus } from './test-bus.js';

/** A TestBus whose history reads wait until the test lets them go, recording what each asked for. */
class GatedBus extends TestBus {
  readonly reads: { channel: string; query: HistoryQuery | undefined; go(): void }[] = [];
  gated = true;
  override async history(channel: string, query?: HistoryQuery): Promise<HistoryResult> {
    if (this.gated) await new Promise<void>((go) => this.reads.push({ channel, query, go }));
    return super.history(channel, query);
  }
  open(): void {
    this.gated = false;
    for (const r of this.reads.splice(0)) r.go();
  }
}

test('replies count against the queue cap: a connection over it that keeps sending commands is closed with 4000', async () => {
  const bus = new TestBus();
  const hub = new Hub({ bus, maxQueueBytes: 16_384, maxSubscriptionsPerConnection: 10 });
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  sink.stalled = true;
  let sent = 0;
  while (sink.closed === undefined && sent < 100_000) {
    conn.send({ op: 'error', id: sent++, code: 'bad_request', message: 'unknown field "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk…"' });
    if (sent % 100 === 0) await settle(1);
  }
  assert.equal(sink.closed?.code, CloseCode.SlowConsumer);
  assert.match(sink.closed!.reason, /not_reading/);
  assert.ok(sink.bufferedBytes() <= 16_384 + 64 * 1024 + 200, `queued ${sink.bufferedBytes()} bytes`);
  assert.equal(hub.stats().connections, 0);
  await hub.close();
});

test('a history join reads one page the connection has room for, and catches up the rest in order', async () => {
  const bus = new TestBus(memoryBus(1000));
  const big = JSON.stringify('z'.repeat(2000));
  for (let i = 0; i < 300; i++) await bus.publish('big', big);
  const queries: (HistoryQuery | undefined)[] = [];
  const history = bus.history.bind(bus);
  bus.history = (ch, q) => (queries.push(q), history(ch, q));
  const hub = new Hub({ bus, maxQueueBytes: 65_536, maxSubscriptionsPerConnection: 10 });
  const sink = new FakeSink();
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'big', history: 250 });
  for (let i = 0; i < 200 && sink.offsets('big').length < 250; i++) await settle(2);
  assert.deepEqual(sink.offsets('big'), Array.from({ length: 250 }, (_, i) => i + 51));
  assert.ok(queries.length > 2, `${queries.length} reads`);
  for (const q of queries) assert.ok(q?.maxBytes !== undefined && q.maxBytes <= 65_536, JSON.stringify(q));
  await hub.close();
});

test('joiners of one channel share one history read; a connection has at most maxHistoryReadsPerConnection in flight', async () => {
  const bus = new GatedBus();
  for (let i = 0; i < 5; i++) await bus.inner.publish('a', String(i));
  const hub = new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 50, maxHistoryReadsPerConnection: 2 });
  const sinks = Array.from({ length: 20 }, () => new FakeSink());
  const joins = sinks.map((s, i) => hub.connect(s).subscribe({ op: 'subscribe', id: i, channel: 'a', history: 5 }));
  await settle(3);
  assert.equal(bus.reads.length, 1, 'twenty joiners, one read');
  bus.reads.splice(0)[0]!.go();
  await Promise.all(joins);
  await settle();
  for (const s of sinks) assert.deepEqual(s.offsets('a'), [1, 2, 3, 4, 5]);

  bus.gated = true;
  const one = hub.connect(new FakeSink());
  const mine = Array.from({ length: 8 }, (_, i) => one.subscribe({ op: 'subscribe', id: i, channel: `c${i}`, history: 3 }));
  await settle(3);
  assert.equal(bus.reads.length, 2, 'at most two reads in flight for one connection');
  bus.open();
  await Promise.all(mine);
  await hub.close();
});

test('when the node runs its maximum of history reads and as many wait, a join is refused with history_unavailable and a retry hint', async () => {
  const bus = new GatedBus();
  const hub = new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 10, maxHistoryReads: 1, maxHistoryReadsPerConnection: 1 });
  const sinks = Array.from({ length: 70 }, () => new FakeSink());
  const joins = sinks.map((s, i) => hub.connect(s).subscribe({ op: 'subscribe', id: 1, channel: `x${i}`, history: 1 }));
  await settle(3);
  const refused = sinks.flatMap((s) => s.of('error'));
  assert.equal(refused.length, 70 - 1 - 64, 'one running, 64 waiting, the rest refused');
  for (const e of refused) assert.deepEqual({ ...e, message: '' }, { op: 'error', id: 1, code: 'history_unavailable', message: '', retryAfterMs: 1000 });
  bus.open();
  await Promise.all(joins);
  await settle();
  assert.equal(sinks.filter((s) => s.of('subscribed').length === 1).length, 65);
  await hub.close();
});
