// The producer on a real redis-server (started here on a free port, stopped by pid): Redis going
// away must block the commands instead of losing their output, fail /readyz and the publish API
// fast, and everything must arrive in order once Redis is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisServer } from '@megaphone/testing';
import { startProducer } from '../src/producer.js';
import { blockedWriting, http, job, outputLines, sleep, testConfig, waitFor } from './helpers.js';

const LINES = 3000;
const FLOOD = `i=0; while [ $i -lt ${LINES} ]; do i=$((i+1)); echo "line $i ......................................................................................."; done`;

test('Redis down: the command blocks, /readyz and publish answer 503, then every line arrives in order', { timeout: 90_000 }, async () => {
  const redis = await RedisServer.start();
  const p = await startProducer({
    config: testConfig([job('flood', ['sh', '-c', FLOOD])], {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'mp-producer-test',
      HISTORY_SIZE: '100000',
      PRODUCER_OUTBOX_MAX_BYTES: '65536',
      // Longer than the outage: a leader that cannot renew its lease would stop the run (SPEC §12).
      PRODUCER_LEASE_MS: '120000',
    }),
    tuning: { outboxRetryInitialMs: 20, outboxRetryMaxMs: 200, outboxStuckAfterMs: 500, publishTimeoutMs: 1000 },
  });
  try {
    assert.equal(p.bus.kind, 'redis');
    await waitFor('bus ready', () => p.bus.isReady());
    const before = await http(p.port, 'POST', '/v1/publish', { body: { channel: 'news', data: 'before' } });
    assert.equal(before.status, 200);

    await redis.stop();
    await waitFor('bus not ready', () => !p.bus.isReady(), { timeoutMs: 15_000 });
    const ready = await http(p.adminPort, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.ok(ready.body.reasons.includes('bus not ready'));
    const t0 = Date.now();
    const pub = await http(p.port, 'POST', '/v1/publish', { body: { channel: 'news', data: 'during' } });
    assert.equal(pub.status, 503);
    assert.equal(pub.body.error.code, 'unavailable');
    assert.ok(Date.now() - t0 < 5000, 'answered instead of hanging');

    assert.equal((await http(p.port, 'POST', '/v1/jobs/flood/runs')).status, 202);
    await waitFor('the outbox to fill', () => p.outbox.isFull(), { timeoutMs: 15_000 });
    await waitFor('the command to block writing its pipe', () => blockedWriting(p.jobs.list()[0]!.lastRun?.pid ?? undefined));
    assert.equal(p.jobs.list()[0]!.state, 'running', 'the command blocks on its pipe');
    const metrics = (await http(p.adminPort, 'GET', '/metrics')).body as string;
    assert.match(metrics, /megaphone_bus_connected\{[^}]*\} 0/);

    await redis.restart();
    await waitFor('the run ended', () => p.jobs.list()[0]!.lastRun?.state === 'exited', { timeoutMs: 60_000 });
    await waitFor('the outbox drained', () => p.outbox.messages === 0, { timeoutMs: 30_000 });
    await waitFor('ready again', async () => (await http(p.adminPort, 'GET', '/readyz')).status === 200, { timeoutMs: 15_000 });
    const lines = await outputLines(p.bus, 'flood');
    assert.equal(lines.length, LINES, 'nothing lost');
    for (let i = 0; i < LINES; i++) if (!lines[i]!.startsWith(`line ${i + 1} `)) assert.fail(`line ${i + 1} out of order: ${lines[i]}`);
    const after = await http(p.port, 'POST', '/v1/publish', { body: { channel: 'news', data: 'after' } });
    assert.equal(after.status, 200);
    const text = (await http(p.adminPort, 'GET', '/metrics')).body as string;
    assert.match(text, /megaphone_bus_reconnects_total\{[^}]*\} [1-9]/);
    assert.match(text, /megaphone_bus_connected\{[^}]*\} 1/);
  } finally {
    await p.close();
    await redis.close();
  }
});
