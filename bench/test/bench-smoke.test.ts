import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startRedis, runScenarioOn, SYSTEM_NAMES, countMarks, scanSample, markedText, type RedisHandle, type ScenarioSpec } from '../src/index.js';

// End to end through each system under test (Redis, the server pinned as in the benchmark, the
// load generator child process), tiny and short: it checks what the benchmark counts, not speed.
let redis: RedisHandle;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

function tiny(clients: number, channels: number, step: Partial<ScenarioSpec['steps'][number]> = {}): ScenarioSpec {
  return {
    id: 'smoke',
    title: 'smoke',
    clients,
    channels,
    sampleEvery: 1,
    stopWhenSaturated: false,
    steps: [{ label: 'smoke', ratePerChannel: 40, durationMs: 1000, payloadChars: 32, drainMs: 8000, ...step }],
  };
}

for (const name of SYSTEM_NAMES) {
  test(`${name}: 20 clients on one channel each receive every published message once, in order`, async () => {
    const r = await runScenarioOn(name, tiny(20, 1), { redisPort: redis.port, redisPid: redis.pid, log: () => undefined });
    assert.equal(r.error, undefined);
    assert.equal(r.clients, 20);
    const s = r.steps[0]!;
    assert.equal(s.publishErrors, 0, s.firstPublishError);
    assert.equal(s.expected, 40 * 20);
    assert.equal(s.delivered, s.expected);
    assert.equal(s.disorder, 0);
    assert.equal(s.latencySamples, s.delivered);
  });
}

test('megaphone-base runs the gateway of the checkout BENCH_BASE_DIR names (here: this one), and says so when it is unset', async () => {
  const saved = process.env.BENCH_BASE_DIR;
  try {
    delete process.env.BENCH_BASE_DIR;
    await assert.rejects(runScenarioOn('megaphone-base', tiny(5, 1), { redisPort: redis.port, redisPid: redis.pid, log: () => undefined }), /megaphone-base needs BENCH_BASE_DIR/);
    process.env.BENCH_BASE_DIR = fileURLToPath(new URL('../../..', import.meta.url));
    const r = await runScenarioOn('megaphone-base', tiny(20, 1), { redisPort: redis.port, redisPid: redis.pid, log: () => undefined });
    assert.equal(r.error, undefined);
    assert.equal(r.system, 'megaphone-base');
    assert.equal(r.steps[0]!.delivered, 40 * 20);
  } finally {
    if (saved === undefined) delete process.env.BENCH_BASE_DIR;
    else process.env.BENCH_BASE_DIR = saved;
  }
});

test('megaphone --auth: clients authenticate before subscribing and the publisher presents its token', async () => {
  const r = await runScenarioOn('megaphone', tiny(20, 2, { ratePerChannel: 10 }), { redisPort: redis.port, redisPid: redis.pid, log: () => undefined, auth: true });
  assert.equal(r.error, undefined);
  assert.equal(r.clients, 20);
  const s = r.steps[0]!;
  assert.deepEqual({ errors: s.publishErrors, first: s.firstPublishError }, { errors: 0, first: undefined });
  assert.equal(s.delivered, s.expected);
  assert.equal(s.disorder, 0);
});

for (const name of ['megaphone', 'socketio'] as const) {
  test(`${name}: 40 clients over 8 channels receive only their own channel's messages`, async () => {
    const r = await runScenarioOn(name, tiny(40, 8, { ratePerChannel: 10 }), { redisPort: redis.port, redisPid: redis.pid, log: () => undefined });
    assert.equal(r.error, undefined);
    const s = r.steps[0]!;
    assert.equal(s.expected, 10 * 40);
    assert.equal(s.delivered, s.expected);
    assert.equal(s.disorder, 0);
  });
}

test('megaphone: publications made with Bus.publish reach every client once, in order', async () => {
  const spec = { ...tiny(20, 2), megaphoneVia: 'bus' as const };
  const r = await runScenarioOn('megaphone', spec, { redisPort: redis.port, redisPid: redis.pid, log: () => undefined });
  assert.equal(r.error, undefined);
  const s = r.steps[0]!;
  assert.equal(s.publishErrors, 0, s.firstPublishError);
  assert.equal(s.expected, 40 * 20);
  assert.equal(s.delivered, s.expected);
  assert.equal(s.disorder, 0);
});

test('megaphone: every line a job prints reaches every subscribed client', async () => {
  const spec = tiny(10, 1, { label: 'burst', jobLines: 300, durationMs: 300, payloadChars: 60 });
  const r = await runScenarioOn('megaphone', spec, { redisPort: redis.port, redisPid: redis.pid, log: () => undefined });
  assert.equal(r.error, undefined);
  const s = r.steps[0]!;
  assert.equal(s.expected, 300 * 10);
  assert.equal(s.delivered, s.expected);
  assert.equal(s.disorder, 0);
});

test('marks are counted inside any framing and sampled for time and order', () => {
  const a = markedText(1000.5, 1, 40);
  const b = markedText(1001.25, 2, 40);
  const frame = Buffer.from(`{"op":"message","data":{"m":"${a}"}}\n{"op":"message","data":{"lines":["${b}","${a}"]}}`);
  assert.equal(countMarks(frame, 0, frame.length), 3);
  const h = createHistogram();
  const r = scanSample(frame, 0, frame.length, 1002, h, 0);
  assert.deepEqual({ count: r.count, lastSeq: r.lastSeq, disorder: r.disorder }, { count: 3, lastSeq: 2, disorder: 1 });
  assert.equal(h.count, 3);
  assert.equal(h.max, 1500);
});
