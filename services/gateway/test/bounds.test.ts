import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@megaphone/testing';
import { once } from 'node:events';
import { connect } from 'node:net';
import { CommandRateLimiter } from '../src/connections/rate-limit.js';
import { httpGet, isOp, sleep, startTestGateway, TestClient } from './helpers.js';

test('pongs that do not echo the heartbeat’s ping do not keep a client alive; echoing ones do', async () => {
  const t = await startTestGateway({ GATEWAY_HEARTBEAT_MS: '100' });
  try {
    const faker = await TestClient.connect(t.ws, { autoPong: false });
    const timer = setInterval(() => faker.ws.readyState === faker.ws.OPEN && faker.ws.pong(Buffer.from([0, 0, 0, 1])), 20);
    const healthy = await TestClient.connect(t.ws);
    let pings = 0;
    healthy.ws.on('ping', () => pings++);
    const closed = await faker.closed;
    clearInterval(timer);
    assert.equal(closed.code, 4001);
    // Each heartbeat round closes a client whose last ping went unanswered: three more rounds.
    const seen = pings;
    await waitFor('three more heartbeat rounds', () => pings >= seen + 3 || healthy.ws.readyState !== healthy.ws.OPEN);
    assert.equal(healthy.ws.readyState, healthy.ws.OPEN, 'a client that answers the pings it reads stays');
    await healthy.close();
  } finally {
    await t.close();
  }
});

test('a connection subscribes to at most GATEWAY_MAX_CHANNELS_PER_MINUTE channels a minute, then gets rate_limited with retryAfterMs', async () => {
  const t = await startTestGateway({ GATEWAY_MAX_CHANNELS_PER_MINUTE: '5', GATEWAY_MAX_COMMANDS_PER_SECOND: '100' });
  try {
    const c = await TestClient.connect(t.ws);
    for (let i = 0; i < 6; i++) {
      c.send({ op: 'subscribe', id: i, channel: `c${i}` });
      c.send({ op: 'unsubscribe', id: 100 + i, channel: `c${i}` });
    }
    const err = await c.next(isOp('error', 5));
    assert.equal(err.code, 'rate_limited');
    assert.ok(err.retryAfterMs !== undefined && err.retryAfterMs > 0 && err.retryAfterMs <= 12_000, JSON.stringify(err));
    assert.equal(c.messages.filter(isOp('subscribed')).length, 5);
    await c.close();
  } finally {
    await t.close();
  }
});

test('the channel bucket refills at its rate per minute', () => {
  let now = 0;
  const l = new CommandRateLimiter(50, () => now, 60);
  for (let i = 0; i < 60; i++) assert.equal(l.takeChannel(), 0);
  assert.equal(l.takeChannel(), 1000);
  now += 500;
  assert.equal(l.takeChannel(), 500);
  now += 500;
  assert.equal(l.takeChannel(), 0);
});

test('an SSE client that stops reading is closed once nothing it was sent moved for a heartbeat window', async () => {
  const t = await startTestGateway({ GATEWAY_HEARTBEAT_MS: '200', GATEWAY_MAX_QUEUE_BYTES: '65536' });
  try {
    const socket = connect(t.gw.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /sse?channel=flood HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await once(socket, 'data');
    socket.pause();
    const big = JSON.stringify('s'.repeat(60_000));
    // Enough to fill the kernel's socket buffers on loopback, so bytes stay queued in the gateway.
    for (let i = 0; i < 400 && t.gw.hub.stats().connections === 1; i++) {
      await t.bus.publish('flood', big);
      if (i % 20 === 0) await sleep(10);
    }
    await waitFor('the stuck SSE client to be closed', () => t.gw.hub.stats().connections === 0, { timeoutMs: 5000 });
    const metrics = (await httpGet(`${t.admin}/metrics`)).body;
    assert.match(metrics, /^megaphone_connections_closed_total\{transport="sse",code="4000"[^}]*\} 1$/m);
    socket.destroy();
  } finally {
    await t.close();
  }
});
