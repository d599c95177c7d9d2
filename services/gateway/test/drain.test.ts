import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClient, httpGet, isOp, startTestGateway, upgradeStatus } from './helpers.js';
import { SseStream } from './sse-helpers.js';

test('drain: readiness fails at once, new clients get 503, existing ones close with 1001 spread over the window', async () => {
  // Long enough that a loaded machine stalling this process for a second cannot bunch the closes.
  const drainMs = 4000;
  const t = await startTestGateway({ GATEWAY_DRAIN_MS: String(drainMs) });
  let publisher: NodeJS.Timeout | undefined;
  try {
    const clients = await Promise.all(Array.from({ length: 20 }, () => TestClient.connect(t.ws)));
    for (const [i, c] of clients.entries()) c.send({ op: 'subscribe', id: i, channel: 'news' });
    await Promise.all(clients.map((c, i) => c.next(isOp('subscribed', i))));
    const sse = await SseStream.open(`${t.base}/sse?channel=news`);

    const start = Date.now();
    const closeTimes: number[] = [];
    const closes = clients.map((c) => c.closed.then((closed) => (closeTimes.push(Date.now() - start), closed)));
    // Publications keep flowing while clients are being closed.
    publisher = setInterval(() => t.bus.publish('news', '{"tick":true}').catch(() => {}), 10);
    const drained = t.gw.drain();

    const ready = await httpGet(`${t.admin}/readyz`);
    assert.equal(ready.status, 503);
    assert.ok((JSON.parse(ready.body) as { reasons: string[] }).reasons.includes('draining'));
    assert.equal(await upgradeStatus(t.ws), 503);
    assert.equal((await httpGet(`${t.base}/sse?channel=news`)).status, 503);
    const metrics = await httpGet(`${t.admin}/metrics`);
    assert.match(metrics.body, /megaphone_draining\{[^}]*\} 1/);

    const results = await Promise.all(closes);
    for (const r of results) {
      assert.equal(r.code, 1001);
      const hint = JSON.parse(r.reason) as { retryAfterMs: number };
      assert.ok(Number.isInteger(hint.retryAfterMs) && hint.retryAfterMs >= 500 && hint.retryAfterMs <= 1500, r.reason);
    }
    assert.ok(new Set(results.map((r) => r.reason)).size > 1, 'hints are jittered');
    closeTimes.sort((a, b) => a - b);
    const spread = closeTimes.at(-1)! - closeTimes[0]!;
    assert.ok(spread >= drainMs * 0.5, `closes spread over ${spread} ms`);
    // Spread, not all at once: even at 2 per tenth of the window, a busy machine (another test
    // stalling this process) may bunch a few, but never most of them.
    for (let from = 0; from < drainMs; from += drainMs / 10) {
      const inSlice = closeTimes.filter((x) => x >= from && x < from + drainMs / 10).length;
      assert.ok(inSlice <= clients.length / 2, `${inSlice} closes in [${from}, ${from + drainMs / 10})`);
    }
    assert.ok(closeTimes.filter((x) => x < drainMs / 2).length >= clients.length / 4, 'closes start early in the window');
    assert.ok(closeTimes.filter((x) => x >= drainMs / 2).length >= clients.length / 4, 'and go on late in the window');
    await sse.until(() => sse.ended, drainMs + 1000);
    assert.ok(sse.retry !== undefined && sse.retry >= 500, 'SSE gets a retry hint');
    await drained;
    const took = Date.now() - start;
    assert.ok(took <= drainMs + 2000, `drain ends with its window (took ${took} ms), not after close timeouts`);
  } finally {
    clearInterval(publisher);
    await t.close();
  }
});

test('drain with no clients completes at once', async () => {
  const t = await startTestGateway({ GATEWAY_DRAIN_MS: '5000' });
  try {
    const start = Date.now();
    await t.gw.drain();
    assert.ok(Date.now() - start < 1000);
  } finally {
    await t.close();
  }
});
