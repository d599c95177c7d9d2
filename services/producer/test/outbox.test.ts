import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Outbox } from '../src/outbox.js';
import { FlakyBus, memoryBus, published, silentLogger, waitFor } from './helpers.js';

function outbox(bus: FlakyBus, maxBytes = 1_000_000, stuckAfterMs = 5000, now: () => number = Date.now): { box: Outbox; failures: () => number; latencies: number[] } {
  let failures = 0;
  const latencies: number[] = [];
  const box = new Outbox({
    bus,
    maxBytes,
    logger: silentLogger,
    retryInitialMs: 10,
    retryMaxMs: 50,
    stuckAfterMs,
    now,
    metrics: { published: (s) => latencies.push(s), failed: () => failures++ },
  });
  return { box, failures: () => failures, latencies };
}

test('publishes in order per channel and reports each position', async () => {
  const bus = new FlakyBus();
  const { box, latencies } = outbox(bus);
  const tickets = Array.from({ length: 50 }, (_, i) => box.enqueue(i % 2 ? 'a' : 'b', JSON.stringify(i)));
  const results = await Promise.all(tickets.map((t) => t.done));
  assert.ok(results.every((r) => r.ok));
  assert.deepEqual(await published(bus, 'a'), Array.from({ length: 25 }, (_, i) => 2 * i + 1));
  assert.deepEqual(await published(bus, 'b'), Array.from({ length: 25 }, (_, i) => 2 * i));
  const r = results[1]!;
  assert.ok(r.ok && r.position.offset === 1 && typeof r.position.epoch === 'string');
  assert.equal(box.messages, 0);
  assert.equal(box.bytes, 0);
  assert.equal(latencies.length, 50);
  box.close();
});

test('while the bus is down nothing is lost: publications wait, then go out in order', async () => {
  const bus = new FlakyBus();
  const { box } = outbox(bus);
  bus.down();
  const tickets = Array.from({ length: 20 }, (_, i) => box.enqueue('c', JSON.stringify(i)));
  await waitFor('three retries while the bus is down', () => bus.readyChecks >= 3);
  assert.equal(box.messages, 20);
  assert.deepEqual(await published(bus, 'c'), []);
  bus.up();
  await Promise.all(tickets.map((t) => t.done));
  assert.deepEqual(await published(bus, 'c'), Array.from({ length: 20 }, (_, i) => i));
  box.close();
});

test('publishes that reject are retried with backoff, keeping order, and counted as errors', async () => {
  const bus = new FlakyBus();
  const { box, failures } = outbox(bus);
  bus.rejecting = true;
  const tickets = Array.from({ length: 10 }, (_, i) => box.enqueue('d', JSON.stringify(i)));
  await waitFor('five failed attempts', () => failures() >= 5);
  // Equal jitter: retry n waits at least half its window (10 ms doubling to the 50 ms cap); the
  // timer may round its delay down by under a millisecond.
  const gaps = bus.attemptTimes.slice(1, 5).map((t, i) => t - bus.attemptTimes[i]!);
  gaps.forEach((gap, n) => assert.ok(gap >= Math.min(50, 10 * 2 ** n) / 2 - 1, `retry ${n + 1} came ${gap.toFixed(1)} ms after the attempt before it`));
  bus.rejecting = false;
  await Promise.all(tickets.map((t) => t.done));
  assert.deepEqual(await published(bus, 'd'), Array.from({ length: 10 }, (_, i) => i));
  box.close();
});

test('full past maxBytes, drain fires once below half, and stuck is reported while nothing moves', async () => {
  const bus = new FlakyBus();
  let clock = 0;
  const { box } = outbox(bus, 2000, 100, () => clock);
  let drains = 0;
  box.onDrain(() => drains++);
  bus.stall();
  const payload = JSON.stringify('x'.repeat(400));
  const tickets = [];
  while (!box.isFull()) tickets.push(box.enqueue('e', payload));
  assert.ok(box.bytes >= 2000);
  clock = 100;
  assert.equal(box.isStuck(), false, 'no progress for exactly stuckAfterMs');
  clock = 101;
  assert.equal(box.isStuck(), true, 'no progress for longer than stuckAfterMs');
  bus.up();
  await Promise.all(tickets.map((t) => t.done));
  assert.equal(drains, 1);
  assert.equal(box.isFull(), false);
  assert.equal(box.isStuck(), false);
  box.close();
});

test('conflated publications (uptime) keep only the latest unsent value', async () => {
  const bus = new FlakyBus();
  const { box } = outbox(bus);
  bus.down();
  const first = box.enqueue('uptime', '1', { conflate: true });
  box.enqueue('uptime', '2', { conflate: true });
  const last = box.enqueue('uptime', '3', { conflate: true });
  assert.equal(box.messages, 1);
  assert.deepEqual(await first.done, { ok: false, reason: 'conflated' });
  bus.up();
  const r = await last.done;
  assert.ok(r.ok);
  assert.deepEqual(await published(bus, 'uptime'), [3]);
  box.close();
});

test('cancel withdraws a queued publication but not one already with the bus', async () => {
  const bus = new FlakyBus();
  const { box } = outbox(bus);
  bus.stall();
  const inFlight = box.enqueue('f', '1');
  const queued = box.enqueue('f', '2');
  await waitFor('the first publication to reach the bus', () => bus.attempts === 1);
  assert.equal(inFlight.cancel(), false);
  assert.equal(queued.cancel(), true);
  assert.deepEqual(await queued.done, { ok: false, reason: 'cancelled' });
  bus.up();
  assert.ok((await inFlight.done).ok);
  assert.deepEqual(await published(bus, 'f'), [1]);
  box.close();
});

test('close() settles what is left as not published instead of dropping it silently', async () => {
  const bus = new FlakyBus();
  const { box } = outbox(bus);
  bus.down();
  const t = box.enqueue('g', '1');
  assert.equal(await box.flush(50), false);
  box.close();
  assert.deepEqual(await t.done, { ok: false, reason: 'closed' });
  assert.deepEqual(await box.enqueue('g', '2').done, { ok: false, reason: 'closed' });
});

test('property: whatever the bus does (reject, go down, recover), each channel gets everything once, in order', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ channel: fc.constantFrom('x', 'y', 'z'), fault: fc.constantFrom('none', 'none', 'reject', 'down', 'up') }), { minLength: 1, maxLength: 60 }),
      async (steps) => {
        const bus = new FlakyBus();
        const { box } = outbox(bus);
        const sent: Record<string, number[]> = { x: [], y: [], z: [] };
        const tickets = [];
        for (const [i, step] of steps.entries()) {
          if (step.fault === 'reject') bus.rejecting = true;
          else if (step.fault === 'down') bus.down();
          else if (step.fault === 'up') {
            bus.rejecting = false;
            bus.up();
          }
          sent[step.channel]!.push(i);
          tickets.push(box.enqueue(step.channel, String(i)));
          // Let retries and completions interleave with the enqueues.
          if (i % 7 === 0) await new Promise((r) => setImmediate(r));
        }
        bus.rejecting = false;
        bus.up();
        const results = await Promise.all(tickets.map((t) => t.done));
        assert.ok(results.every((r) => r.ok));
        for (const ch of ['x', 'y', 'z']) assert.deepEqual(await published(bus, ch), sent[ch]);
        box.close();
      },
    ),
    { numRuns: 40 },
  );
});

test('a fenced publication is refused for good: dropped, reported once, and the channel goes on', async () => {
  const bus = memoryBus();
  await bus.publish('uptime', '"newer leader"', { fence: 200 });
  const fenced: number[] = [];
  const box = new Outbox({ bus, maxBytes: 1_000_000, logger: silentLogger, retryInitialMs: 10, retryMaxMs: 50, onFenced: (err) => fenced.push(err.fence) });
  const old = box.enqueue('uptime', '"deposed"', { fence: 100 });
  const current = box.enqueue('uptime', '"current"', { fence: 200 });
  const unfenced = box.enqueue('uptime', '"api"');
  assert.deepEqual(await old.done, { ok: false, reason: 'fenced' });
  assert.ok((await current.done).ok);
  assert.ok((await unfenced.done).ok);
  assert.deepEqual(fenced, [100]);
  assert.deepEqual(await published(bus, 'uptime'), ['newer leader', 'current', 'api']);
  assert.equal(box.messages, 0);
  box.close();
});
