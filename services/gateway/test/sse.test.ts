import { test } from 'node:test';
import { request } from 'node:http';
import assert from 'node:assert/strict';
import { waitFor } from '@megaphone/testing';
import { httpGet, sleep, startTestGateway, subscriptionCount } from './helpers.js';
import { SseStream } from './sse-helpers.js';

test('SSE streams publications as event: message with the same JSON as the WebSocket', async () => {
  const t = await startTestGateway({ GATEWAY_HEARTBEAT_MS: '100' });
  try {
    await t.bus.publish('a', '{"old":true}');
    const s = await SseStream.open(`${t.base}/sse?channel=a&channel=b&history=5`);
    assert.equal(s.res.statusCode, 200);
    assert.equal(s.res.headers['content-type'], 'text/event-stream');
    assert.equal(s.res.headers['cache-control'], 'no-cache');
    assert.equal(s.res.headers['x-accel-buffering'], 'no');
    await s.until(() => s.publications('a').length === 1);
    await waitFor('both subscriptions', async () => (await subscriptionCount(t)) === 2);
    await t.bus.publish('a', '{"n":2}');
    await t.bus.publish('b', '{"n":1}');
    await s.until(() => s.publications('a').length === 2 && s.publications('b').length === 1);
    assert.deepEqual(s.publications('a'), [{ offset: 1, data: { old: true } }, { offset: 2, data: { n: 2 } }]);
    const last = s.events.filter((e) => e.event === 'message').at(-1)!;
    assert.match(last.id ?? '', /^(a@[\w-]+\/2,b@[\w-]+\/1|b@[\w-]+\/1,a@[\w-]+\/2)$/);
    await s.until(() => s.comments.length >= 2, 2000);
    s.close();
  } finally {
    await t.close();
  }
});

test('SSE resumes from Last-Event-ID without loss, on every channel', async () => {
  const t = await startTestGateway();
  try {
    const s = await SseStream.open(`${t.base}/sse?channel=x&channel=y`);
    await waitFor('both subscriptions', async () => (await subscriptionCount(t)) === 2);
    for (let i = 1; i <= 5; i++) {
      await t.bus.publish('x', JSON.stringify({ i }));
      await t.bus.publish('y', JSON.stringify({ i }));
    }
    await s.until(() => s.publications('x').length === 5 && s.publications('y').length === 5);
    const lastId = s.lastEventId;
    s.close();
    for (let i = 6; i <= 12; i++) await t.bus.publish('x', JSON.stringify({ i }));
    for (let i = 6; i <= 8; i++) await t.bus.publish('y', JSON.stringify({ i }));

    const again = await SseStream.open(`${t.base}/sse?channel=x&channel=y`, { 'last-event-id': lastId });
    await again.until(() => again.publications('x').length === 7 && again.publications('y').length === 3);
    await t.bus.publish('y', '{"i":9}');
    await again.until(() => again.publications('y').length === 4);
    assert.deepEqual(again.publications('x').map((p) => p.offset), [6, 7, 8, 9, 10, 11, 12]);
    assert.deepEqual(again.publications('y').map((p) => p.offset), [6, 7, 8, 9]);
    again.close();

    // The same through the query string (for clients that cannot set headers).
    const q = await SseStream.open(`${t.base}/sse?channel=x&lastEventId=${encodeURIComponent(lastId)}`);
    await q.until(() => q.publications('x').length === 7);
    q.close();
  } finally {
    await t.close();
  }
});

test('SSE rejects bad requests with a JSON 400 and foreign origins with 403', async () => {
  const t = await startTestGateway({ GATEWAY_MAX_SUBSCRIPTIONS: '2', GATEWAY_MAX_HISTORY: '10' });
  try {
    for (const q of ['', '?channel=', '?channel=bad%20name', '?channel=a&channel=b&channel=c', '?channel=a&history=11', '?channel=a&history=-1']) {
      const r = await httpGet(`${t.base}/sse${q}`);
      assert.equal(r.status, 400, q);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'bad_request');
    }
    const badId = await httpGet(`${t.base}/sse?channel=a`, { 'last-event-id': 'garbage' });
    assert.equal(badId.status, 400);
    const foreign = await httpGet(`${t.base}/sse?channel=a`, { origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal((JSON.parse(foreign.body) as { error: { code: string } }).error.code, 'forbidden');
  } finally {
    await t.close();
  }
});

test('SSE from an allowed cross-origin page gets CORS headers, and its preflight is answered', async () => {
  const t = await startTestGateway({ GATEWAY_ALLOWED_ORIGINS: 'https://app.example' });
  try {
    const s = await SseStream.open(`${t.base}/sse?channel=a`, { origin: 'https://app.example' });
    assert.equal(s.res.statusCode, 200);
    assert.equal(s.res.headers['access-control-allow-origin'], 'https://app.example');
    s.close();
    const pre = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.base}/sse?channel=a`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-headers': 'last-event-id' } }, (res) => {
        assert.match(String(res.headers['access-control-allow-headers']), /last-event-id/);
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(pre, 204);
    assert.equal((await httpGet(`${t.base}/sse?channel=a`, { origin: 'https://other.example' })).status, 403);
  } finally {
    await t.close();
  }
});

test('SSE streams count against GATEWAY_MAX_CONNECTIONS', async () => {
  const t = await startTestGateway({ GATEWAY_MAX_CONNECTIONS: '1' });
  try {
    const s = await SseStream.open(`${t.base}/sse?channel=a`);
    const r = await httpGet(`${t.base}/sse?channel=a`);
    assert.equal(r.status, 503);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'unavailable');
    s.close();
  } finally {
    await t.close();
  }
});
