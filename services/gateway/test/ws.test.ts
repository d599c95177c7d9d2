import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerMessage } from '@megaphone/protocol';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { waitFor } from '@megaphone/testing';
import { TestClient, httpGet, isOp, sleep, startTestGateway, upgradeStatus } from './helpers.js';

test('welcome is the first message: node, session, heartbeat', async () => {
  const t = await startTestGateway({ GATEWAY_HEARTBEAT_MS: '30000' });
  try {
    const c = await TestClient.connect(t.ws);
    const first = c.messages[0];
    assert.equal(first?.op, 'welcome');
    assert.equal(first.op === 'welcome' && first.node, 'gw-test');
    assert.equal(first.op === 'welcome' && first.heartbeatMs, 30000);
    assert.ok(first.op === 'welcome' && first.session.length >= 8);
    const other = await TestClient.connect(t.ws);
    assert.notEqual((other.messages[0] as { session: string }).session, (first as { session: string }).session);
    await c.close();
    await other.close();
  } finally {
    await t.close();
  }
});

test('subscribe replies subscribed, then live publications arrive in order; unsubscribe stops them', async () => {
  const t = await startTestGateway();
  try {
    const c = await TestClient.connect(t.ws);
    c.send({ op: 'subscribe', id: 1, channel: 'news' });
    const sub = await c.next(isOp('subscribed', 1));
    assert.equal(sub.channel, 'news');
    assert.equal(sub.offset, 0);
    for (let i = 1; i <= 20; i++) await t.bus.publish('news', JSON.stringify({ i }));
    await c.until(() => c.publications('news').length === 20);
    assert.deepEqual(c.publications('news').map((p) => p.offset), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.deepEqual(c.publications('news')[4]?.data, { i: 5 });
    c.send({ op: 'unsubscribe', id: 2, channel: 'news' });
    await c.next(isOp('unsubscribed', 2));
    await t.bus.publish('news', '{"late":true}');
    c.send({ op: 'ping', id: 3 });
    await c.next(isOp('pong', 3));
    assert.equal(c.publications('news').length, 20);
    await c.close();
  } finally {
    await t.close();
  }
});

test('history replays the last N publications, then live, without a gap or duplicate', async () => {
  const t = await startTestGateway();
  try {
    for (let i = 1; i <= 30; i++) await t.bus.publish('cmd:build', JSON.stringify({ line: i }));
    const c = await TestClient.connect(t.ws);
    c.send({ op: 'subscribe', id: 1, channel: 'cmd:build', history: 10 });
    const sub = await c.next(isOp('subscribed', 1));
    assert.equal(sub.offset, 30);
    await t.bus.publish('cmd:build', JSON.stringify({ line: 31 }));
    await c.until(() => c.publications('cmd:build').length === 11);
    assert.deepEqual(c.publications('cmd:build').map((p) => p.offset), [21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);
    await c.close();
  } finally {
    await t.close();
  }
});

test('since after missing 50 publications while publishing goes on: exactly those 50, then live, no duplicates', async () => {
  const t = await startTestGateway();
  try {
    const first = await TestClient.connect(t.ws);
    first.send({ op: 'subscribe', id: 1, channel: 'feed' });
    const sub = await first.next(isOp('subscribed', 1));
    for (let i = 1; i <= 10; i++) await t.bus.publish('feed', JSON.stringify({ i }));
    await first.until(() => first.publications('feed').length === 10);
    await first.close();

    // The client is away while 50 are published.
    for (let i = 11; i <= 60; i++) await t.bus.publish('feed', JSON.stringify({ i }));
    let publishing = true;
    let n = 60;
    const publisher = (async () => {
      while (publishing) {
        await t.bus.publish('feed', JSON.stringify({ i: ++n }));
        await sleep(1);
      }
    })();

    const again = await TestClient.connect(t.ws);
    again.send({ op: 'subscribe', id: 2, channel: 'feed', since: { epoch: sub.epoch, offset: 10 } });
    const resumed = await again.next(isOp('subscribed', 2));
    assert.equal(resumed.recovered, true);
    await again.until(() => again.publications('feed').length >= 80);
    publishing = false;
    await publisher;
    await again.until(() => again.publications('feed').at(-1)?.offset === n);
    const offsets = again.publications('feed').map((p) => p.offset);
    assert.deepEqual(offsets, Array.from({ length: n - 10 }, (_, i) => i + 11));
    assert.deepEqual(offsets.slice(0, 50), Array.from({ length: 50 }, (_, i) => i + 11));
    await again.close();
  } finally {
    await t.close();
  }
});

test('bad frames get error codes and the connection stays usable', async () => {
  const t = await startTestGateway({ GATEWAY_MAX_HISTORY: '100' });
  try {
    const c = await TestClient.connect(t.ws);
    const errors = (): Extract<ServerMessage, { op: 'error' }>[] => c.messages.filter(isOp('error'));
    c.send('not json');
    c.send({ op: 'dance', id: 7 });
    c.send({ op: 'subscribe', id: 8, channel: 'bad channel!' });
    c.send({ op: 'subscribe', id: 9, channel: 'ok', history: 101 });
    c.send({ op: 'subscribe', id: 10, channel: 'ok', since: { epoch: 'e', offset: -1 } });
    c.ws.send(Buffer.from('{"op":"ping","id":11}'), { binary: true });
    await c.until(() => errors().length === 6);
    assert.deepEqual(errors().map((e) => e.code), Array(6).fill('bad_request'));
    assert.deepEqual(errors().map((e) => e.id), [undefined, 7, 8, 9, 10, undefined]);
    c.send({ op: 'ping', id: 12 });
    await c.next(isOp('pong', 12));
    c.send({ op: 'subscribe', id: 13, channel: 'ok', history: 100 });
    await c.next(isOp('subscribed', 13));
    assert.equal(c.ws.readyState, c.ws.OPEN);
    await c.close();
  } finally {
    await t.close();
  }
});

test('a frame over 4 KiB closes the connection with 1009', async () => {
  const t = await startTestGateway();
  try {
    const c = await TestClient.connect(t.ws);
    c.send(JSON.stringify({ op: 'ping', id: 1, pad: 'x'.repeat(5000) }));
    const closed = await c.closed;
    assert.equal(closed.code, 1009);
  } finally {
    await t.close();
  }
});

test('Origin: same-origin by default, foreign origins refused with 403', async () => {
  const t = await startTestGateway();
  try {
    const port = new URL(t.base).port;
    assert.equal(await upgradeStatus(t.ws, { origin: `http://127.0.0.1:${port}` }), 101);
    assert.equal(await upgradeStatus(t.ws, { origin: 'https://evil.example' }), 403);
    assert.equal(await upgradeStatus(t.ws, { origin: `http://127.0.0.1:${Number(port) + 1}` }), 403);
    assert.equal(await upgradeStatus(t.ws, { origin: `https://127.0.0.1:${port}` }), 403, 'another scheme is another origin');
    // DNS rebinding: the attacker's page is same-origin with its own name, which the gateway does not serve.
    assert.equal(await upgradeStatus(t.ws, { origin: `http://rebind.attacker.example:${port}`, headers: { host: `rebind.attacker.example:${port}` } }), 403);
    assert.equal(await upgradeStatus(t.ws), 101, 'no Origin: not a browser');
    assert.equal(await upgradeStatus(t.ws.replace('/ws', '/elsewhere')), 404);
  } finally {
    await t.close();
  }
});

test('Origin: an exact allowlist, and * allows any', async () => {
  const listed = await startTestGateway({ GATEWAY_ALLOWED_ORIGINS: 'https://app.example, http://localhost:3000' });
  const any = await startTestGateway({ GATEWAY_ALLOWED_ORIGINS: '*' });
  try {
    assert.equal(await upgradeStatus(listed.ws, { origin: 'https://app.example' }), 101);
    assert.equal(await upgradeStatus(listed.ws, { origin: 'http://localhost:3000' }), 101);
    assert.equal(await upgradeStatus(listed.ws, { origin: 'https://app.example.evil' }), 403);
    assert.equal(await upgradeStatus(listed.ws, { origin: `http://127.0.0.1:${listed.gw.port}` }), 403);
    assert.equal(await upgradeStatus(any.ws, { origin: 'https://anything.example' }), 101);
  } finally {
    await listed.close();
    await any.close();
  }
});

test('a client that does not answer pings is closed with 4001', async () => {
  const t = await startTestGateway({ GATEWAY_HEARTBEAT_MS: '100' });
  try {
    const silent = await TestClient.connect(t.ws, { autoPong: false });
    const healthy = await TestClient.connect(t.ws);
    let pings = 0;
    healthy.ws.on('ping', () => pings++);
    const closed = await silent.closed;
    assert.equal(closed.code, 4001);
    // Two more heartbeat rounds: a client answering pings is never the one closed.
    const after = pings;
    await waitFor('two more heartbeats', () => pings >= after + 2);
    assert.equal(healthy.ws.readyState, healthy.ws.OPEN, 'a client answering pings stays');
    const metrics = (await httpGet(`${t.admin}/metrics`)).body;
    assert.match(metrics, /^megaphone_connections_closed_total\{transport="ws",code="4001"[^}]*\} 1$/m);
    await healthy.close();
  } finally {
    await t.close();
  }
});

test('commands over the rate get rate_limited; a sustained flood is closed with 1008', async () => {
  const t = await startTestGateway({ GATEWAY_MAX_COMMANDS_PER_SECOND: '10' });
  try {
    const c = await TestClient.connect(t.ws);
    for (let i = 1; i <= 15; i++) c.send({ op: 'ping', id: i });
    await c.until((ms) => ms.filter((m) => m.op === 'pong' || m.op === 'error').length === 15);
    assert.equal(c.messages.filter(isOp('pong')).length, 10);
    const limited = c.messages.filter(isOp('error'));
    assert.equal(limited.length, 5);
    assert.ok(limited.every((e) => e.code === 'rate_limited'));
    assert.equal(c.ws.readyState, c.ws.OPEN);

    for (let i = 0; i < 100 && c.ws.readyState === c.ws.OPEN; i++) c.send({ op: 'ping', id: 100 + i });
    assert.equal((await c.closed).code, 1008);
  } finally {
    await t.close();
  }
});

test('GATEWAY_MAX_CONNECTIONS: clients past the limit get 503 until one leaves', async () => {
  const t = await startTestGateway({ GATEWAY_MAX_CONNECTIONS: '2' });
  try {
    const a = await TestClient.connect(t.ws);
    const b = await TestClient.connect(t.ws);
    assert.equal(await upgradeStatus(t.ws), 503);
    await a.close();
    // Refused with 503 until the gateway has seen the first one leave.
    const c = await waitFor('a free connection slot', () => TestClient.connect(t.ws));
    await b.close();
    await c.close();
  } finally {
    await t.close();
  }
});

/** A raw WebSocket client that records every frame the server sends, in order, and never answers a close. */
interface RawClient {
  socket: Socket;
  frames: { opcode: number; payload: Buffer }[];
  send(opcode: number, payload: Buffer): void;
}

async function rawClient(port: number): Promise<RawClient> {
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const frames: { opcode: number; payload: Buffer }[] = [];
  let buf = Buffer.alloc(0);
  let upgraded = false;
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (!upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      upgraded = true;
      buf = buf.subarray(end + 4);
    }
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      if (buf.length < at + len) return;
      frames.push({ opcode: buf[0]! & 0x0f, payload: Buffer.from(buf.subarray(at, at + len)) });
      buf = buf.subarray(at + len);
    }
  });
  socket.on('error', () => {});
  const send = (opcode: number, payload: Buffer): void => {
    // Masked with a zero key (valid, and the payload stays as is).
    const head = payload.length < 126 ? Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]) : Buffer.from([0x80 | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff, 0, 0, 0, 0]);
    socket.write(Buffer.concat([head, payload]));
  };
  return { socket, frames, send };
}

for (const [why, code, trigger] of [
  // ws closes (a frame over the 4 KiB limit) and ends the socket once its close frame is out.
  ['ws closes on a frame over 4 KiB', 1009, (c: RawClient) => c.send(1, Buffer.from(JSON.stringify({ op: 'ping', id: 2, pad: 'x'.repeat(5000) })))],
  // The gateway closes (a command flood) and keeps the socket open for the peer's close frame.
  ['the gateway closes a command flood', 1008, (c: RawClient) => {
    for (let i = 0; i < 60; i++) c.send(1, Buffer.from(JSON.stringify({ op: 'ping', id: 100 + i })));
  }],
] as const) {
  test(`after its close frame the server sends no further data, to a peer that never answers it (${why})`, async () => {
    const t = await startTestGateway({ GATEWAY_MAX_COMMANDS_PER_SECOND: '10' });
    try {
      const c = await rawClient(t.gw.port);
      c.send(1, Buffer.from(JSON.stringify({ op: 'subscribe', id: 1, channel: 'news' })));
      const started = Date.now();
      while (!c.frames.some((f) => f.opcode === 1 && f.payload.includes('"op":"subscribed"'))) {
        assert.ok(Date.now() - started < 5000, 'subscribed');
        await sleep(5);
      }
      let publishing = true;
      const publisher = (async () => {
        while (publishing) {
          await t.bus.publish('news', '{"n":1}');
          await sleep(1);
        }
      })();
      await waitFor('publications flowing', () => c.frames.some((f) => f.opcode === 1 && f.payload.includes('"op":"message"')));
      trigger(c);
      await waitFor('the close frame', () => c.frames.some((f) => f.opcode === 8), { timeoutMs: 5000 });
      // Publications go on after the close: another subscriber sees 20 more delivered, so anything
      // the gateway wrongly wrote to the closed connection in those turns would be here by now.
      const witness = await TestClient.connect(t.ws);
      witness.send({ op: 'subscribe', id: 1, channel: 'news' });
      await witness.until((ms) => ms.filter((m) => m.op === 'message').length >= 20);
      await witness.close();
      publishing = false;
      await publisher;
      const closeAt = c.frames.findIndex((f) => f.opcode === 8);
      assert.ok(closeAt >= 0, 'the server sent a close frame');
      assert.equal(c.frames[closeAt]!.payload.readUInt16BE(0), code);
      assert.ok(c.frames.slice(0, closeAt).some((f) => f.payload.includes('"op":"message"')), 'publications flowed before the close');
      assert.deepEqual(c.frames.slice(closeAt + 1).map((f) => f.opcode), [], 'nothing after the close frame');
      c.socket.destroy();
    } finally {
      await t.close();
    }
  });
}

test('a peer close frame answered behind a backed-up socket is the last frame the server sends', async () => {
  // A cap far above what the socket buffers: the hub keeps writing while the socket is backed up,
  // so the answering close frame waits in the socket's queue with publications written around it.
  const t = await startTestGateway({ GATEWAY_MAX_QUEUE_BYTES: String(512 * 1024 * 1024) });
  try {
    const c = await rawClient(t.gw.port);
    c.send(1, Buffer.from(JSON.stringify({ op: 'subscribe', id: 1, channel: 'news' })));
    const started = Date.now();
    while (!c.frames.some((f) => f.opcode === 1 && f.payload.includes('"op":"subscribed"'))) {
      assert.ok(Date.now() - started < 5000, 'subscribed');
      await sleep(5);
    }
    c.socket.pause();
    const data = JSON.stringify({ pad: 'x'.repeat(50_000) });
    // Until the server's socket holds a backlog in user space (the kernel's buffers are full).
    while (t.gw.hub.stats().queuedBytes < 4 * 1024 * 1024) {
      await t.bus.publish('news', data);
      await new Promise((r) => setImmediate(r));
    }
    c.send(8, Buffer.from([0x03, 0xe8]));
    for (let i = 0; i < 50; i++) {
      await t.bus.publish('news', data);
      await sleep(1);
    }
    const ended = once(c.socket, 'close');
    c.socket.resume();
    await ended;
    const closeAt = c.frames.findIndex((f) => f.opcode === 8);
    assert.ok(closeAt >= 0, 'the server answered with a close frame');
    assert.ok(c.frames.slice(0, closeAt).some((f) => f.payload.includes('"op":"message"')), 'publications flowed before the close');
    assert.deepEqual(c.frames.slice(closeAt + 1).map((f) => f.opcode), [], 'nothing after the close frame');
  } finally {
    await t.close();
  }
});
