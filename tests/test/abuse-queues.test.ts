// Abuse scenarios for issue 9, findings 2, 3 and 4: history floods against a gateway on Redis (the
// bytes Redis sends are measured), command floods from clients that never read (queued bytes), and
// a dead reader that sends unprompted pongs. A healthy client watches throughout; each scenario
// asserts its bound and the watcher's latency against its baseline, and prints its numbers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { RedisServer } from '@megaphone/testing';
import { waitFor } from '../src/cluster/wait.js';
import { CommandClient } from '../src/abuse/clients.js';
import { Stack } from '../src/abuse/stack.js';
import { Watcher } from '../src/abuse/watcher.js';

const MiB = 1024 * 1024;
const KiB = 1024;

describe('abuse: history floods on Redis', () => {
  let redis: RedisServer;
  let stack: Stack;
  let watcher: Watcher;
  before(async () => {
    redis = await RedisServer.start();
    stack = await Stack.start({ env: { REDIS_URL: redis.url } });
    watcher = await Watcher.start(stack);
  });
  after(async () => {
    watcher?.stop();
    await stack?.stop();
    await redis?.close();
  });

  it('finding 2: subscribers asking for 1,000 publications of 60 KB cost Redis one page each, and the bus stays ready', async () => {
    const PUBS = 200;
    const big = 'x'.repeat(60_000);
    for (let i = 0; i < PUBS; i += 10) {
      const r = await stack.publish(Array.from({ length: 10 }, () => ({ channel: 'big', data: big })));
      assert.equal(r.status, 200);
    }
    const baseline = await watcher.baseline();
    const CLIENTS = 10;
    const SECONDS = 2;
    const reconnectsBefore = await stack.metric('megaphone_bus_reconnects_total');
    const outBefore = Number((await redis.info('stats')).total_net_output_bytes);
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => CommandClient.connect(stack.ws)));
    let notReady = 0;
    const readiness = setInterval(() => void stack.status(`${stack.admin}/readyz`).then((s) => (notReady += s === 200 ? 0 : 1)), 100);
    // Each client subscribes with history and unsubscribes, 20 commands a second (under the limit of 50).
    const pairs = Array.from({ length: SECONDS * 10 }, (_, i) => [
      { op: 'subscribe', id: i, channel: 'big', history: 1000 },
      { op: 'unsubscribe', id: i, channel: 'big' },
    ]).flat();
    await Promise.all(clients.map((c) => c.lockstep(pairs, 2, () => c.n('subscribed') + c.n('unsubscribed') + c.n('error'), 100)));
    for (const c of clients) await c.waitFor('every unsubscribe answered', () => c.n('unsubscribed') === pairs.length / 2);
    clearInterval(readiness);
    const out = Number((await redis.info('stats')).total_net_output_bytes) - outBefore;
    const subscribes = clients.reduce((n, c) => n + c.n('subscribed'), 0);
    const errors: Record<string, number> = {};
    for (const c of clients) for (const [code, n] of c.errors) errors[code] = (errors[code] ?? 0) + n;
    const reconnects = (await stack.metric('megaphone_bus_reconnects_total')) - reconnectsBefore;
    for (const c of clients) c.close();
    const perSubscribe = out / Math.max(1, subscribes);
    console.log(
      `finding 2: ${CLIENTS} clients × ${pairs.length / 2} subscribes with history 1000 on ${PUBS} × 60 KB: Redis sent ${(out / MiB).toFixed(1)} MiB for ${subscribes} subscribes ` +
        `(${(perSubscribe / KiB).toFixed(0)} KiB each, bound ${1024 + 128} KiB; the whole history is ${((PUBS * 60_000) / MiB).toFixed(1)} MiB); errors ${JSON.stringify(errors)}; readyz not 200 ${notReady} times; bus reconnects ${reconnects}`,
    );
    assert.ok(perSubscribe <= (1024 + 128) * KiB, `${(perSubscribe / KiB).toFixed(0)} KiB per subscribe`);
    assert.equal(errors.internal ?? 0, 0);
    assert.equal(notReady, 0, 'the bus stayed ready');
    assert.equal(reconnects, 0);
    console.log(`finding 2: ${await watcher.assertUnaffected(baseline, stack.tail())}`);
  });
});

describe('abuse: clients that do not read', () => {
  let stack: Stack;
  let watcher: Watcher;
  before(async () => {
    stack = await Stack.start({ env: { GATEWAY_MAX_COMMANDS_PER_SECOND: '2000' } });
    watcher = await Watcher.start(stack);
  });
  after(async () => {
    watcher?.stop();
    await stack?.stop();
  });

  it('finding 3: replies count against the queue cap: 10 non-reading clients flooding commands are closed, their queues bounded', async () => {
    // 12 MB of history fills the kernel's socket buffers and then the 1 MiB cap for each client.
    const big = 'y'.repeat(60_000);
    for (let i = 0; i < 200; i += 10) await stack.publish(Array.from({ length: 10 }, () => ({ channel: 'fill', data: big })));
    const baseline = await watcher.baseline();
    const CLIENTS = 10;
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => CommandClient.connect(stack.ws)));
    for (const c of clients) {
      c.ws.send(JSON.stringify({ op: 'subscribe', id: 1, channel: 'fill', history: 1000 }));
      (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    }
    await waitFor('the clients to be over their cap', async () => (await stack.metric('megaphone_outbound_queued_bytes')) > CLIENTS * 512 * KiB, { timeoutMs: 10_000 });
    const start = Date.now();
    let maxQueued = 0;
    const bad = JSON.stringify({ op: 'ping', id: 1, [`k${'k'.repeat(3900)}`]: 1 });
    const flood = setInterval(() => {
      for (const c of clients) for (let i = 0; i < 100; i++) if (c.ws.readyState === WebSocket.OPEN) c.ws.send(bad);
    }, 100);
    try {
      await waitFor('every flooding client closed', async () => {
        maxQueued = Math.max(maxQueued, await stack.metric('megaphone_outbound_queued_bytes'));
        return (await stack.metric('megaphone_connections', 'transport="ws"')) === 1;
      }, { timeoutMs: 15_000, intervalMs: 100 });
    } finally {
      clearInterval(flood);
    }
    const closeMs = Date.now() - start;
    const closed4000 = await stack.metric('megaphone_connections_closed_total', 'code="4000"');
    console.log(
      `finding 3: ${CLIENTS} non-reading clients sending 1,000 bad commands a second each: all closed within ${closeMs} ms (${closed4000} with 4000); ` +
        `queued bytes peaked at ${(maxQueued / MiB).toFixed(2)} MiB in total (bound ${CLIENTS} × (1 MiB cap + 64 KiB for replies + one publication))`,
    );
    assert.ok(maxQueued <= CLIENTS * (MiB + 64 * KiB + 64 * KiB), `${maxQueued} bytes queued`);
    for (const c of clients) c.close();
    console.log(`finding 3: ${await watcher.assertUnaffected(baseline, stack.tail())}`);
  });
});

describe('abuse: a dead reader that sends pongs', () => {
  let stack: Stack;
  let watcher: Watcher;
  before(async () => {
    stack = await Stack.start({ env: { GATEWAY_HEARTBEAT_MS: '1000' } });
    watcher = await Watcher.start(stack);
  });
  after(async () => {
    watcher?.stop();
    await stack?.stop();
  });

  it('finding 4: a client that never reads but sends pongs of its own is dropped within three heartbeats', async () => {
    const baseline = await watcher.baseline();
    const closedBefore = await stack.metric('megaphone_connections_closed_total', 'code="4001"');
    const c = await CommandClient.connect(stack.ws);
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const start = Date.now();
    const pongs = setInterval(() => c.ws.readyState === WebSocket.OPEN && c.ws.pong(Buffer.from('alive')), 100);
    try {
      await waitFor('the dead reader closed', async () => (await stack.metric('megaphone_connections_closed_total', 'code="4001"')) > closedBefore, { timeoutMs: 10_000, intervalMs: 50 });
    } finally {
      clearInterval(pongs);
      c.close();
    }
    const ms = Date.now() - start;
    console.log(`finding 4: a non-reading client sending unprompted pongs every 100 ms was closed with 4001 and dropped after ${ms} ms (heartbeat 1,000 ms; bound 4,000: up to three heartbeats (one to send the ping, one to notice, one to drop) and scheduling slack)`);
    assert.ok(ms <= 4000, `${ms} ms`);
    console.log(`finding 4: ${await watcher.assertUnaffected(baseline, stack.tail())}`);
  });
});
