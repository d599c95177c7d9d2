import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startProducer } from '../src/producer.js';
import { blockedWriting, FlakyBus, http, job, outputLines, sleep, tempDir, testConfig, waitFor } from './helpers.js';

const LINES = 20_000;
// ~100 bytes a line: 2 MB of output against a 64 KiB outbox, so the command must block on its pipe.
const FLOOD = `i=0; while [ $i -lt ${LINES} ]; do i=$((i+1)); echo "line $i ........................................................................"; done; echo done > "$MARK"`;

for (const failure of ['down', 'stalled', 'rejecting'] as const) {
  test(`bus ${failure}: the outbox fills, the command blocks on its pipe, then every line arrives in order`, async () => {
    const t = tempDir();
    const mark = join(t.dir, 'finished');
    const bus = new FlakyBus();
    const p = await startProducer({
      config: testConfig([job('flood', ['sh', '-c', FLOOD], { env: { MARK: mark } })], { PRODUCER_OUTBOX_MAX_BYTES: '65536', PRODUCER_UPTIME_INTERVAL_MS: '50' }),
      bus,
      tuning: { outboxRetryInitialMs: 10, outboxRetryMaxMs: 100, outboxStuckAfterMs: 200, busWatchMs: 20 },
    });
    try {
      if (failure === 'down') bus.down();
      else if (failure === 'stalled') bus.stall();
      else bus.rejecting = true;
      const start = await http(p.port, 'POST', '/v1/jobs/flood/runs');
      assert.equal(start.status, 202);
      await waitFor('the outbox to fill', () => p.outbox.isFull());
      await waitFor('the command to block writing its pipe', () => blockedWriting(p.jobs.list()[0]!.lastRun?.pid ?? undefined));
      assert.equal(existsSync(mark), false, 'the command is blocked, not finished');
      assert.equal(p.jobs.list()[0]!.state, 'running');
      assert.ok(p.outbox.bytes < 65_536 * 2, `the outbox stays bounded (${p.outbox.bytes} bytes)`);
      const ready = await http(p.adminPort, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.ok(ready.body.reasons.some((r: string) => /outbox/.test(r)), ready.body.reasons.join(', '));
      const metrics = (await http(p.adminPort, 'GET', '/metrics')).body as string;
      assert.match(metrics, /megaphone_producer_outbox_messages\{[^}]*\} [1-9]/);

      bus.rejecting = false;
      bus.up();
      await waitFor('the command finished', () => existsSync(mark), { timeoutMs: 30_000 });
      await waitFor('the run ended', () => p.jobs.list()[0]!.lastRun?.state === 'exited', { timeoutMs: 30_000 });
      await waitFor('the outbox drained', () => p.outbox.messages === 0, { timeoutMs: 30_000 });
      const lines = await outputLines(bus, 'flood');
      assert.equal(lines.length, LINES, 'nothing lost');
      for (let i = 0; i < LINES; i++) if (!lines[i]!.startsWith(`line ${i + 1} `)) assert.fail(`line ${i + 1} out of order: ${lines[i]}`);
      const events = (await bus.history('cmd:flood')).publications.map((x) => JSON.parse(x.frame.toString()).data as Record<string, unknown>);
      assert.equal(events[0]!.event, 'started');
      assert.equal(events.at(-1)!.event, 'exited');
      assert.equal(events.at(-1)!.outcome, 'success');
      await waitFor('ready again', async () => (await http(p.adminPort, 'GET', '/readyz')).status === 200);
    } finally {
      await p.close();
      await bus.close();
      t.cleanup();
    }
  });
}
