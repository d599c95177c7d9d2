import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { request } from 'node:http';
import { TEST_SECRET, mintHs256 } from '@megaphone/auth/testing';
import { CloseCode } from '@megaphone/protocol';
import { waitFor } from '@megaphone/testing';
import { TestClient, httpGet, isOp, startTestGateway, type TestGateway } from './helpers.js';
import { SseStream } from './sse-helpers.js';

/** Enough to fill the kernel's socket buffers of a client that stopped reading (≈ 6 MB). */
const PUBLICATIONS = 600;
const TOKEN = 'operator-token-for-tests-0123456789';

interface Reply {
  status: number;
  body: unknown;
}

function call(t: TestGateway, method: string, path: string, opts: { token?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = opts.token !== undefined ? { authorization: `Bearer ${opts.token}` } : {};
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, opts.headers);
    const req = request(`${t.admin}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text.length > 0 && res.headers['content-type']?.includes('json') ? (JSON.parse(text) as unknown) : text }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

interface Row {
  id: string;
  remote: string;
  sub: string | null;
  transport: string;
  connectedAt: number;
  queueBytes: number;
  state: string;
  channels: Array<{ channel: string; offset: number; lag: number }>;
}

async function sessionOf(c: TestClient): Promise<string> {
  const w = await c.next(isOp('welcome'));
  return w.session;
}

test('/v1/ needs the ADMIN_TOKEN; /healthz, /readyz and /metrics stay open', async () => {
  const t = await startTestGateway({ ADMIN_TOKEN: TOKEN });
  try {
    assert.equal((await call(t, 'GET', '/v1/connections')).status, 401);
    assert.equal((await call(t, 'GET', '/v1/connections', { token: `${TOKEN}x` })).status, 401);
    const ok = await call(t, 'GET', '/v1/connections', { token: TOKEN });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, []);
    for (const open of ['/healthz', '/readyz', '/metrics']) assert.equal((await httpGet(`${t.admin}${open}`)).status, 200, open);
    const page = await httpGet(`${t.admin}/`);
    assert.equal(page.status, 200, 'the page itself loads and asks for the token');
    assert.match(page.body, /<title>Megaphone operator<\/title>/);
    assert.ok(!page.body.includes(TOKEN));
  } finally {
    await t.close();
  }
});

test('without ADMIN_TOKEN the operator API answers loopback clients', async () => {
  const t = await startTestGateway();
  try {
    assert.equal((await call(t, 'GET', '/v1/connections')).status, 200);
  } finally {
    await t.close();
  }
});

test('web pages cannot drive the operator API: foreign Origin, a non-loopback Host without a token, a non-JSON POST', async () => {
  const open = await startTestGateway();
  const guarded = await startTestGateway({ ADMIN_TOKEN: TOKEN });
  try {
    const port = new URL(open.admin).port;
    assert.equal((await call(open, 'GET', '/v1/connections', { headers: { origin: 'https://evil.example' } })).status, 403);
    assert.equal((await call(open, 'GET', '/v1/connections', { headers: { origin: `http://127.0.0.1:${port}` } })).status, 200, 'the page itself');
    assert.equal((await call(open, 'GET', '/v1/connections', { headers: { host: `rebound.example:${port}` } })).status, 403, 'DNS rebinding');
    assert.equal((await call(open, 'GET', '/v1/connections', { headers: { host: `localhost:${port}` } })).status, 200);
    assert.equal((await call(guarded, 'GET', '/v1/connections', { token: TOKEN, headers: { host: 'gw.internal:9100' } })).status, 200, 'with a token any Host');
    const plain = await call(open, 'POST', '/v1/disconnect', { body: '{"sub":"alice"}', headers: { 'content-type': 'text/plain' } });
    assert.equal(plain.status, 415, 'a simple cross-site form POST is not JSON');
  } finally {
    await open.close();
    await guarded.close();
  }
});

test('a stalled client is listed first by queue and by lag, with its lag per channel, and is cut off with 4403', async () => {
  const t = await startTestGateway({ ADMIN_TOKEN: TOKEN, GATEWAY_MAX_QUEUE_BYTES: String(64 * 1024), HISTORY_SIZE: '5000' });
  try {
    const fast = await TestClient.connect(t.ws);
    let socket: Socket | undefined;
    const slow = await TestClient.connect(t.ws, { createConnection: (o) => (socket = createConnection(o as { port: number; host: string })) });
    const slowId = await sessionOf(slow);
    for (const c of [fast, slow]) {
      c.send({ op: 'subscribe', id: 1, channel: 'cmd:big' });
      await c.next(isOp('subscribed', 1));
    }
    socket!.pause();
    const pad = 'x'.repeat(10_000);
    for (let i = 1; i <= PUBLICATIONS; i++) {
      await t.bus.publish('cmd:big', JSON.stringify({ i, pad }));
      if (i % 4 === 0) await new Promise((r) => setImmediate(r));
    }
    await fast.until(() => fast.publications('cmd:big').length === PUBLICATIONS, 20_000);

    const byQueue = (await call(t, 'GET', '/v1/connections?sort=queue&limit=1', { token: TOKEN })).body as Row[];
    assert.equal(byQueue.length, 1);
    assert.equal(byQueue[0]!.id, slowId);
    assert.ok(byQueue[0]!.queueBytes > 0);
    assert.equal(byQueue[0]!.transport, 'ws');
    assert.equal(byQueue[0]!.sub, null);
    assert.match(byQueue[0]!.remote, /127\.0\.0\.1/);

    const byLag = (await call(t, 'GET', '/v1/connections?sort=lag', { token: TOKEN })).body as Row[];
    assert.deepEqual(byLag.map((r) => r.id)[0], slowId);
    const [pos] = byLag[0]!.channels;
    assert.equal(pos!.channel, 'cmd:big');
    assert.equal(pos!.offset + pos!.lag, PUBLICATIONS, 'offset + lag is the channel position');
    assert.ok(pos!.lag > 0, 'the stalled client is behind');
    assert.equal(byLag[0]!.state, 'paused');
    assert.deepEqual(byLag[1]!.channels, [{ channel: 'cmd:big', offset: PUBLICATIONS, lag: 0 }]);
    assert.equal(byLag[1]!.state, 'live');

    const byAge = (await call(t, 'GET', '/v1/connections?sort=age', { token: TOKEN })).body as Row[];
    assert.ok(byAge[0]!.connectedAt <= byAge[1]!.connectedAt, 'oldest first');

    socket!.resume();
    const del = await call(t, 'DELETE', `/v1/connections/${encodeURIComponent(slowId)}`, { token: TOKEN });
    assert.deepEqual([del.status, del.body], [200, { closed: 1 }]);
    assert.equal((await slow.closed).code, CloseCode.OperatorDisconnect);
    assert.equal((await call(t, 'DELETE', `/v1/connections/${encodeURIComponent(slowId)}`, { token: TOKEN })).status, 404);
    const metrics = (await httpGet(`${t.admin}/metrics`)).body;
    assert.match(metrics, /megaphone_connections_closed_total\{transport="ws",code="4403"[^}]*\} 1/);
    await fast.close();
  } finally {
    await t.close();
  }
});

test('bad requests get catalogue errors', async () => {
  const t = await startTestGateway({ ADMIN_TOKEN: TOKEN });
  try {
    const bad = async (method: string, path: string, status: number, body?: string): Promise<void> => {
      const r = await call(t, method, path, { token: TOKEN, ...(body !== undefined ? { body } : {}) });
      assert.equal(r.status, status, `${method} ${path}`);
      assert.ok(typeof (r.body as { error?: { code?: string } }).error?.code === 'string');
    };
    await bad('GET', '/v1/connections?sort=size', 400);
    await bad('GET', '/v1/connections?limit=0', 400);
    await bad('GET', '/v1/connections?limit=1001', 400);
    await bad('POST', '/v1/connections', 405);
    await bad('GET', '/v1/channels/bad%20name', 400);
    await bad('GET', '/v1/channels/%E0%A4%A', 400);
    await bad('POST', '/v1/disconnect', 400, '{"user":"x"}');
    await bad('POST', '/v1/disconnect', 400, 'not json');
    await bad('POST', '/v1/disconnect', 413, JSON.stringify({ sub: 'x'.repeat(5000) }));
    await bad('GET', '/v1/nothing', 404);
  } finally {
    await t.close();
  }
});

test('POST /v1/disconnect closes every connection of a sub with 4403 and leaves the others', async () => {
  const t = await startTestGateway({ ADMIN_TOKEN: TOKEN }, { identify: (req) => (req.headers['x-test-sub'] as string | undefined) ?? null });
  try {
    const alice1 = await TestClient.connect(t.ws, { headers: { 'x-test-sub': 'alice' } });
    const alice2 = await TestClient.connect(t.ws, { headers: { 'x-test-sub': 'alice' } });
    const bob = await TestClient.connect(t.ws, { headers: { 'x-test-sub': 'bob' } });
    const rows = (await call(t, 'GET', '/v1/connections?sort=age', { token: TOKEN })).body as Row[];
    assert.deepEqual(rows.map((r) => r.sub).sort(), ['alice', 'alice', 'bob']);
    const r = await call(t, 'POST', '/v1/disconnect', { token: TOKEN, body: '{"sub":"alice"}' });
    assert.deepEqual([r.status, r.body], [202, { closed: 2 }]);
    assert.equal((await alice1.closed).code, 4403);
    assert.equal((await alice2.closed).code, 4403);
    bob.send({ op: 'ping', id: 9 });
    await bob.next(isOp('pong', 9));
    await bob.close();
  } finally {
    await t.close();
  }
});

test('POST /v1/disconnect closes the connections whose verified token names the sub (on the upgrade or by auth), and no others', async () => {
  const t = await startTestGateway({ ADMIN_TOKEN: TOKEN, AUTH_JWT_SECRET: TEST_SECRET, AUTH_PUBLIC_CHANNELS: 'uptime' });
  try {
    const bearer = async (sub: string): Promise<{ headers: Record<string, string> }> => ({ headers: { authorization: `Bearer ${await mintHs256({ sub, channels: ['cmd:*'] })}` } });
    const byUpgrade = await TestClient.connect(t.ws, await bearer('alice'));
    const byAuth = await TestClient.connect(t.ws);
    byAuth.send({ op: 'auth', id: 1, token: await mintHs256({ sub: 'alice', channels: ['cmd:*'] }) });
    assert.equal((await byAuth.next(isOp('authed', 1))).sub, 'alice');
    const bob = await TestClient.connect(t.ws, await bearer('bob'));
    const anonymous = await TestClient.connect(t.ws);
    const rows = (await call(t, 'GET', '/v1/connections?sort=age', { token: TOKEN })).body as Row[];
    assert.deepEqual(rows.map((r) => r.sub).sort(), ['alice', 'alice', 'bob', null]);
    const r = await call(t, 'POST', '/v1/disconnect', { token: TOKEN, body: '{"sub":"alice"}' });
    assert.deepEqual([r.status, r.body], [202, { closed: 2 }]);
    assert.equal((await byUpgrade.closed).code, CloseCode.OperatorDisconnect);
    assert.equal((await byAuth.closed).code, CloseCode.OperatorDisconnect);
    for (const [i, c] of [bob, anonymous].entries()) {
      c.send({ op: 'ping', id: 9 + i });
      await c.next(isOp('pong', 9 + i));
    }
    assert.deepEqual(((await call(t, 'GET', '/v1/connections?sort=age', { token: TOKEN })).body as Row[]).map((x) => x.sub).sort(), ['bob', null]);
    await Promise.all([bob.close(), anonymous.close()]);
  } finally {
    await t.close();
  }
});

test('an SSE stream is listed with transport "sse", and DELETE ends it with a close event carrying 4403', async () => {
  const t = await startTestGateway({ ADMIN_TOKEN: TOKEN });
  try {
    const s = await SseStream.open(`${t.base}/sse?channel=cmd:watched`);
    await s.until(() => s.events.some((e) => e.event === 'subscribed'));
    const { session } = JSON.parse(s.events.find((e) => e.event === 'welcome')!.data) as { session: string };
    await t.bus.publish('cmd:watched', '{"n":1}');
    await s.until(() => s.publications('cmd:watched').length === 1);
    const rows = (await call(t, 'GET', '/v1/connections', { token: TOKEN })).body as Row[];
    assert.equal(rows.length, 1);
    assert.deepEqual(
      { id: rows[0]!.id, transport: rows[0]!.transport, state: rows[0]!.state, channels: rows[0]!.channels },
      { id: session, transport: 'sse', state: 'live', channels: [{ channel: 'cmd:watched', offset: 1, lag: 0 }] },
    );
    const del = await call(t, 'DELETE', `/v1/connections/${encodeURIComponent(session)}`, { token: TOKEN });
    assert.deepEqual([del.status, del.body], [200, { closed: 1 }]);
    await s.until(() => s.ended);
    const close = s.events.at(-1)!;
    assert.equal(close.event, 'close', 'the last event tells the client why');
    assert.equal((JSON.parse(close.data) as { code: number }).code, CloseCode.OperatorDisconnect);
    await waitFor('the close is counted', async () => /megaphone_connections_closed_total\{transport="sse",code="4403"[^}]*\} 1/.test((await httpGet(`${t.admin}/metrics`)).body));
    assert.deepEqual((await call(t, 'GET', '/v1/connections', { token: TOKEN })).body, []);
  } finally {
    await t.close();
  }
});

test('channel counts: GET /v1/channels busiest first, /v1/channels/{channel}, and the presence command', async () => {
  const t = await startTestGateway({ ADMIN_TOKEN: TOKEN, NODE_NAME: 'gw-a' });
  try {
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.connect(t.ws)));
    for (const [i, c] of clients.entries()) {
      c.send({ op: 'subscribe', id: 1, channel: 'cmd:busy' });
      await c.next(isOp('subscribed', 1));
      if (i === 0) {
        c.send({ op: 'subscribe', id: 2, channel: 'cmd:quiet' });
        await c.next(isOp('subscribed', 2));
        c.send({ op: 'subscribe', id: 3, channel: 'uptime' });
        await c.next(isOp('subscribed', 3));
      }
    }
    // The three connected in the same millisecond: find the first one by its id, not by its age.
    const rows = (await call(t, 'GET', '/v1/connections?sort=age', { token: TOKEN })).body as Row[];
    const firstId = await sessionOf(clients[0]!);
    const first = rows.find((r) => r.id === firstId);
    assert.ok(first, 'the first connection is listed');
    assert.deepEqual(first.channels.map((c) => c.channel).sort(), ['cmd:busy', 'cmd:quiet', 'uptime'], 'every subscription of a connection is listed');
    assert.equal(first.state, 'live');
    const all = (await call(t, 'GET', '/v1/channels', { token: TOKEN })).body;
    assert.deepEqual(all, [
      { channel: 'cmd:busy', subscribers: 3, nodes: { 'gw-a': 3 } },
      ...((all as unknown[]).slice(1, 3) as unknown[]),
    ]);
    const cmd = (await call(t, 'GET', '/v1/channels?prefix=cmd:&limit=5', { token: TOKEN })).body;
    assert.deepEqual(cmd, [
      { channel: 'cmd:busy', subscribers: 3, nodes: { 'gw-a': 3 } },
      { channel: 'cmd:quiet', subscribers: 1, nodes: { 'gw-a': 1 } },
    ]);
    assert.deepEqual((await call(t, 'GET', '/v1/channels?limit=1', { token: TOKEN })).body, [{ channel: 'cmd:busy', subscribers: 3, nodes: { 'gw-a': 3 } }]);
    assert.deepEqual((await call(t, 'GET', '/v1/channels/cmd%3Aquiet', { token: TOKEN })).body, { channel: 'cmd:quiet', subscribers: 1, nodes: { 'gw-a': 1 } });
    assert.deepEqual((await call(t, 'GET', '/v1/channels/nobody', { token: TOKEN })).body, { channel: 'nobody', subscribers: 0, nodes: {} });

    const c = clients[1]!;
    c.send({ op: 'presence', id: 7, channel: 'cmd:busy' });
    assert.deepEqual(await c.next(isOp('presence', 7)), { op: 'presence', id: 7, channel: 'cmd:busy', subscribers: 3 });
    c.send({ op: 'presence', id: 8, channel: 'bad name' });
    assert.equal((await c.next(isOp('error', 8))).code, 'bad_request');
    await Promise.all(clients.map((x) => x.close()));
  } finally {
    await t.close();
  }
});
