import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBus } from '@megaphone/bus';
import { Hub, type HubMetrics } from '../src/index.js';
import { FakeSink, settle } from './fake-sink.js';
import { TestBus } from './test-bus.js';

// docs/metrics.md: a live delivery is observed in megaphone_delivery_latency_seconds when its bytes
// are handed to the socket; a client past its queue cap gets no live deliveries, and what it is
// caught up with later is observed in megaphone_replay_latency_seconds with its full delay.

const CAP = 64 * 1024;
const PAYLOAD = JSON.stringify({ line: 'x'.repeat(1000) });

/** One clock for the bus (publication times) and the hub (observation times). */
function setup() {
  const clock = { now: 1_000_000 };
  const observed = { live: [] as Array<[number, number]>, replay: [] as Array<[number, number]> };
  const metrics: Partial<HubMetrics> = {
    deliveryLatency: (s, n) => observed.live.push([s, n]),
    replayLatency: (s, n) => observed.replay.push([s, n]),
  };
  const bus = new TestBus(new MemoryBus({ history: () => ({ size: 10_000, ttlMs: 3_600_000 }), now: () => clock.now }));
  const hub = new Hub({ bus, maxQueueBytes: CAP, maxSubscriptionsPerConnection: 8, metrics, now: () => clock.now });
  return { clock, observed, bus, hub };
}

/** A socket that takes `ms` of the shared clock to accept each write, and notes when it finished. */
class SlowWritingSink extends FakeSink {
  readonly writtenAt: number[] = [];
  constructor(
    private readonly clock: { now: number },
    private readonly ms: number,
  ) {
    super();
  }
  override write(chunk: Buffer): void {
    super.write(chunk);
    this.clock.now += this.ms;
    this.writtenAt.push(this.clock.now);
  }
}

test('a live delivery under the cap is observed once its bytes are written, weighted by its subscribers', async () => {
  const { clock, observed, bus, hub } = setup();
  const sinks = [new SlowWritingSink(clock, 5), new SlowWritingSink(clock, 5)];
  for (const s of sinks) await hub.connect(s).subscribe({ op: 'subscribe', id: 1, channel: 'cmd:a' });
  await settle();
  const publishedAt = clock.now;
  void bus.publish('cmd:a', PAYLOAD);
  clock.now += 40; // the rest of the turn before the flush
  await settle();
  const lastWrite = Math.max(...sinks.map((s) => s.writtenAt.at(-1)!));
  assert.deepEqual(sinks.map((s) => s.offsets('cmd:a')), [[1], [1]]);
  assert.deepEqual(observed.live, [[(lastWrite - publishedAt) / 1000, 2]], 'after both writes, not when the publication arrived');
  assert.ok(lastWrite - publishedAt >= 40 + 2 * 5);
  assert.deepEqual(observed.replay, []);
  await hub.close();
});

test('a client stalled past its cap is caught up later and observed in the replay histogram with at least its stall', async () => {
  const { clock, observed, bus, hub } = setup();
  const keeping = new FakeSink();
  const stalled = new FakeSink();
  const stalledConn = hub.connect(stalled);
  await hub.connect(keeping).subscribe({ op: 'subscribe', id: 1, channel: 'cmd:a' });
  await stalledConn.subscribe({ op: 'subscribe', id: 1, channel: 'cmd:a' });
  await settle();
  stalled.stalled = true;
  const total = 300; // ≈ 300 KB, well past the 64 KB cap
  for (let i = 0; i < total; i++) {
    void bus.publish('cmd:a', PAYLOAD);
    clock.now += 1;
    if (i % 10 === 9) await settle(1);
  }
  await settle();
  const beforeStall = stalled.offsets('cmd:a').length;
  assert.ok(beforeStall > 0 && beforeStall < total / 2, `the stalled client got ${beforeStall} before its cap`);
  assert.equal(keeping.offsets('cmd:a').length, total);
  assert.equal(observed.replay.length, 0, 'nothing replayed while it is stalled');

  const STALL_MS = 30_000;
  clock.now += STALL_MS;
  for (let i = 0; i < 200 && stalled.offsets('cmd:a').length < total; i++) {
    stalled.drain();
    stalledConn.drained();
    await settle(2);
  }
  assert.deepEqual(stalled.offsets('cmd:a'), Array.from({ length: total }, (_, i) => i + 1));

  const replayed = total - beforeStall;
  assert.equal(observed.replay.length, replayed, 'one replay observation per publication caught up');
  const shortestReplay = Math.min(...observed.replay.map(([s]) => s));
  assert.ok(shortestReplay >= STALL_MS / 1000, `the shortest replay latency ${shortestReplay} s covers the ${STALL_MS / 1000} s stall`);
  assert.ok(observed.replay.every(([, n]) => n === 1));
  const liveWeight = observed.live.reduce((sum, [, n]) => sum + n, 0);
  assert.equal(liveWeight, total + beforeStall, 'live: every delivery to the reading client, and the stalled one only until its cap');
  assert.ok(observed.live.every(([s]) => s < 1), 'no live observation carries the stall');

  // Caught up: live again, observed live.
  const liveBefore = observed.live.length;
  void bus.publish('cmd:a', PAYLOAD);
  clock.now += 3;
  await settle();
  assert.deepEqual(observed.live.slice(liveBefore), [[0.003, 2]]);
  assert.equal(observed.replay.length, replayed);
  await hub.close();
});
