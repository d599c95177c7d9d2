import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { waitFor } from '@megaphone/testing';
import { TestClient, httpGet, isOp, sleep, startTestGateway, type TestGateway } from './helpers.js';
import { SseStream } from './sse-helpers.js';

const PUBLICATIONS = 600;
const PAYLOAD = 'x'.repeat(10_000); // 600 × ~10 KB ≈ 6 MB

/** A client whose TCP socket the test can stop reading from. */
async function pausableClient(t: TestGateway): Promise<{ client: TestClient; socket: () => Socket }> {
  let socket: Socket | undefined;
  const client = await TestClient.connect(t.ws, {
    createConnection: (opts) => (socket = createConnection(opts as { port: number; host: string })),
  });
  return { client, socket: () => socket! };
}

/** Publishes like a bus does: a few publications per event-loop turn, not all in one. */
async function publishMany(t: TestGateway, channel: string, onTurn: () => void): Promise<void> {
  for (let i = 1; i <= PUBLICATIONS; i++) {
    await t.bus.publish(channel, JSON.stringify({ i, pad: PAYLOAD }));
    if (i % 4 === 0) {
      await new Promise((r) => setImmediate(r));
      onTurn();
    }
  }
}

function counter(body: string, name: string, labels: string): number {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('a client that stops reading while 6 MB is published does not hold up another, and is caught up in order', async (tc) => {
  const maxQueue = 256 * 1024;
  const t = await startTestGateway({ GATEWAY_MAX_QUEUE_BYTES: String(maxQueue), HISTORY_SIZE: '2000' });
  try {
    const fast = await TestClient.connect(t.ws);
    const slow = await pausableClient(t);
    fast.send({ op: 'subscribe', id: 1, channel: 'big' });
    slow.client.send({ op: 'subscribe', id: 1, channel: 'big' });
    await fast.next(isOp('subscribed', 1));
    await slow.client.next(isOp('subscribed', 1));
    slow.socket().pause();

    let peakQueued = 0;
    await publishMany(t, 'big', () => (peakQueued = Math.max(peakQueued, t.gw.hub.stats().queuedBytes)));
    await fast.until(() => fast.publications('big').length === PUBLICATIONS, 20_000);
    assert.deepEqual(fast.publications('big').map((p) => p.offset), Array.from({ length: PUBLICATIONS }, (_, i) => i + 1));
    assert.ok(slow.client.publications('big').length < PUBLICATIONS, 'the paused client has not read everything');
    assert.ok(peakQueued < 2 * maxQueue + 128 * 1024, `gateway queue stayed bounded (peak ${peakQueued} bytes)`);

    const lagged = counter((await httpGet(`${t.admin}/metrics`)).body, 'megaphone_slow_consumer_events_total', 'outcome="lagged"');
    assert.ok(lagged >= 1, 'the slow consumer was noticed');

    slow.socket().resume();
    const outcome = await Promise.race([
      slow.client.until((ms) => ms.filter((m) => m.op === 'message').length >= PUBLICATIONS, 20_000).then(() => 'caught_up' as const),
      slow.client.closed.then((c) => c.code),
    ]);
    tc.diagnostic(`peak queued ${peakQueued} bytes (cap ${maxQueue}), lagged events ${lagged}, outcome ${outcome}`);
    if (outcome === 'caught_up') {
      const offsets = slow.client.publications('big').map((p) => p.offset);
      assert.deepEqual(offsets, Array.from({ length: PUBLICATIONS }, (_, i) => i + 1), 'every publication, in order, once');
      await t.bus.publish('big', '{"after":true}');
      await slow.client.until(() => slow.client.publications('big').length === PUBLICATIONS + 1);
    } else {
      assert.equal(outcome, 4000);
    }
    await fast.close();
    await slow.client.close();
  } finally {
    await t.close();
  }
});

test('a slow client whose missed publications left history is told: closed with 4000 or sent a gap', async (tc) => {
  const t = await startTestGateway({ GATEWAY_MAX_QUEUE_BYTES: String(64 * 1024), HISTORY_SIZE: '20' });
  try {
    const slow = await pausableClient(t);
    slow.client.send({ op: 'subscribe', id: 1, channel: 'big' });
    await slow.client.next(isOp('subscribed', 1));
    slow.socket().pause();
    await publishMany(t, 'big', () => {});
    // The gateway has acted on the backlog (a slow-consumer event) before the client reads again.
    await waitFor('a slow-consumer event', async () => /^megaphone_slow_consumer_events_total\{[^}]*\} [1-9]/m.test((await httpGet(`${t.admin}/metrics`)).body));
    slow.socket().resume();
    const outcome = await Promise.race([
      slow.client.closed.then((c) => c.code),
      slow.client.next(isOp('gap'), 0, 20_000).then(() => 'gap' as const),
    ]);
    tc.diagnostic(`outcome ${outcome}`);
    assert.ok(outcome === 4000 || outcome === 'gap', String(outcome));
    const offsets = slow.client.publications('big').map((p) => p.offset);
    for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i]! > offsets[i - 1]!, 'in order, no duplicates');
    await slow.client.close();
  } finally {
    await t.close();
  }
});

test('a paused SSE reader does not hold up a WebSocket client; it is caught up, or cut off and resumes by Last-Event-ID without loss', async (tc) => {
  const t = await startTestGateway({ GATEWAY_MAX_QUEUE_BYTES: String(128 * 1024), HISTORY_SIZE: '2000' });
  try {
    const fast = await TestClient.connect(t.ws);
    fast.send({ op: 'subscribe', id: 1, channel: 'big' });
    await fast.next(isOp('subscribed', 1));
    const sse = await SseStream.open(`${t.base}/sse?channel=big`);
    await sse.until(() => sse.events.some((e) => e.event === 'subscribed'));
    sse.res.pause();
    await publishMany(t, 'big', () => {});
    await fast.until(() => fast.publications('big').length === PUBLICATIONS, 20_000);
    const lagged = counter((await httpGet(`${t.admin}/metrics`)).body, 'megaphone_slow_consumer_events_total', 'outcome="lagged"');
    assert.ok(lagged >= 1, 'the SSE reader was over its cap');
    sse.res.resume();
    await sse.until(() => sse.publications('big').length === PUBLICATIONS || sse.ended, 20_000).catch(() => {});
    let offsets = sse.publications('big').map((p) => p.offset);
    tc.diagnostic(`SSE reader got ${offsets.length} before ${sse.ended ? 'the stream ended' : 'catching up'}`);
    if (sse.ended) {
      const again = await SseStream.open(`${t.base}/sse?channel=big`, { 'last-event-id': sse.lastEventId });
      await again.until(() => again.publications('big').at(-1)?.offset === PUBLICATIONS, 20_000);
      offsets = offsets.concat(again.publications('big').map((p) => p.offset));
      again.close();
    }
    assert.deepEqual(offsets, Array.from({ length: PUBLICATIONS }, (_, i) => i + 1));
    sse.close();
    await fast.close();
  } finally {
    await t.close();
  }
});
