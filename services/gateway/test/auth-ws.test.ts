import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRET, jwksOf, mintHs256, mintWith, testKeyPair } from '@megaphone/auth/testing';
import type { ErrorMessage, UnsubscribedMessage } from '@megaphone/protocol';
import { waitFor } from '@megaphone/testing';
import { TestClient, isOp, startTestGateway, upgradeStatus } from './helpers.js';

const AUTH = { AUTH_JWT_SECRET: TEST_SECRET, AUTH_PUBLIC_CHANNELS: 'uptime' };

test('with a key configured, only public channels are readable without a token; the connection stays open', async () => {
  const t = await startTestGateway(AUTH);
  try {
    const c = await TestClient.connect(t.ws);
    c.send({ op: 'subscribe', id: 1, channel: 'uptime' });
    c.send({ op: 'subscribe', id: 2, channel: 'cmd:a' });
    await c.next(isOp('subscribed', 1));
    const err = (await c.next(isOp('error', 2))) as ErrorMessage;
    assert.equal(err.code, 'unauthorized');
    await t.bus.publish('cmd:a', '{"secret":1}');
    await t.bus.publish('uptime', '{"up":1}');
    await c.until((ms) => ms.some((m) => m.op === 'message' && m.channel === 'uptime'));
    assert.deepEqual(c.publications('cmd:a'), []);
    c.send({ op: 'ping', id: 3 });
    await c.next(isOp('pong', 3));
    await c.close();
  } finally {
    await t.close();
  }
});

test('auth then subscribe in a row: a token for cmd:a reads cmd:a and is forbidden cmd:b', async () => {
  const t = await startTestGateway(AUTH);
  try {
    const c = await TestClient.connect(t.ws);
    const token = await mintHs256({ sub: 'alice', channels: ['cmd:a'] });
    // Sent without waiting for `authed`: the subscribe must see the token.
    c.send({ op: 'auth', id: 1, token });
    c.send({ op: 'subscribe', id: 2, channel: 'cmd:a' });
    c.send({ op: 'subscribe', id: 3, channel: 'cmd:b' });
    const authed = await c.next(isOp('authed', 1));
    assert.equal(authed.sub, 'alice');
    assert.ok(authed.expiresAt > Date.now() + 3000_000);
    await c.next(isOp('subscribed', 2));
    assert.equal(((await c.next(isOp('error', 3))) as ErrorMessage).code, 'forbidden');
    await t.bus.publish('cmd:a', '{"n":1}');
    await t.bus.publish('cmd:b', '{"n":2}');
    await c.until(() => c.publications('cmd:a').length === 1);
    assert.deepEqual(c.publications('cmd:b'), []);
    await c.close();
  } finally {
    await t.close();
  }
});

test('Authorization on the upgrade authenticates a program; a bad one is refused with 401', async () => {
  const t = await startTestGateway(AUTH);
  try {
    const token = await mintHs256({ sub: 'svc', channels: ['cmd:*'] });
    const c = await TestClient.connect(t.ws, { headers: { authorization: `Bearer ${token}` } });
    c.send({ op: 'subscribe', id: 1, channel: 'cmd:anything' });
    await c.next(isOp('subscribed', 1));
    await c.close();
    const forged = await mintHs256({ sub: 'x', channels: ['*'] }, { secret: 'not-the-secret-but-long-enough-0123456789' });
    assert.equal(await upgradeStatus(t.ws, { headers: { authorization: `Bearer ${forged}` } }), 401);
  } finally {
    await t.close();
  }
});

test('a refresh ends the subscriptions the new token no longer covers', async () => {
  const t = await startTestGateway(AUTH);
  try {
    const c = await TestClient.connect(t.ws);
    c.send({ op: 'auth', id: 1, token: await mintHs256({ sub: 'alice', channels: ['cmd:*'] }) });
    c.send({ op: 'subscribe', id: 2, channel: 'cmd:a' });
    c.send({ op: 'subscribe', id: 3, channel: 'cmd:b' });
    c.send({ op: 'subscribe', id: 4, channel: 'uptime' });
    await c.next(isOp('subscribed', 4));
    await c.next(isOp('subscribed', 3));
    c.send({ op: 'auth', id: 5, token: await mintHs256({ sub: 'alice', channels: ['cmd:a'] }) });
    await c.next(isOp('authed', 5));
    const ended = (await c.next((m): m is UnsubscribedMessage => m.op === 'unsubscribed')) as UnsubscribedMessage;
    assert.deepEqual(ended, { op: 'unsubscribed', channel: 'cmd:b', reason: 'forbidden' });
    await t.bus.publish('cmd:b', '{"n":1}');
    await t.bus.publish('cmd:a', '{"n":1}');
    await c.until(() => c.publications('cmd:a').length === 1);
    assert.deepEqual(c.publications('cmd:b'), []);
    assert.equal(c.messages.filter((m) => m.op === 'unsubscribed').length, 1, 'public and still-covered subscriptions stay');
    await c.close();
  } finally {
    await t.close();
  }
});

test('a token that fails verification closes the connection with 4401 after an unauthorized error', async () => {
  const t = await startTestGateway(AUTH);
  try {
    const c = await TestClient.connect(t.ws);
    c.send({ op: 'auth', id: 1, token: await mintHs256({ sub: 'alice', channels: ['*'] }, { expiresIn: -60 }) });
    const closed = await c.closed;
    assert.equal(closed.code, 4401);
    const err = c.messages.find(isOp('error', 1)) as ErrorMessage | undefined;
    assert.equal(err?.code, 'unauthorized');
    assert.match(err.message, /expired/);
  } finally {
    await t.close();
  }
});

test('a token that expires without a refresh closes the connection with 4401; a refresh in time keeps it open', async () => {
  const t = await startTestGateway(AUTH);
  try {
    const a = await TestClient.connect(t.ws);
    const c = await TestClient.connect(t.ws);
    // Accepted within the 30 s skew, due to close within one to two seconds.
    const dying = await mintHs256({ sub: 'alice', channels: ['*'] }, { expiresIn: -28 });
    const b = await TestClient.connect(t.ws, { headers: { authorization: `Bearer ${dying}` } });
    a.send({ op: 'auth', id: 1, token: dying });
    c.send({ op: 'auth', id: 1, token: dying });
    await Promise.all([a.next(isOp('authed', 1)), c.next(isOp('authed', 1))]);
    c.send({ op: 'auth', id: 2, token: await mintHs256({ sub: 'alice', channels: ['*'] }) });
    await c.next(isOp('authed', 2));
    const [ca, cb] = await Promise.all([a.closed, b.closed]);
    assert.equal(ca.code, 4401);
    assert.match(ca.reason, /token_expired/);
    assert.equal(cb.code, 4401);
    c.send({ op: 'ping', id: 3 });
    await c.next(isOp('pong', 3));
    await c.close();
  } finally {
    await t.close();
  }
});

test('presence answers only for readable channels: a private channel the token does not cover is forbidden, a public or covered one gets its count', async () => {
  const t = await startTestGateway(AUTH);
  try {
    const reader = await TestClient.connect(t.ws, { headers: { authorization: `Bearer ${await mintHs256({ sub: 'alice', channels: ['cmd:a'] })}` } });
    reader.send({ op: 'subscribe', id: 1, channel: 'cmd:a' });
    reader.send({ op: 'subscribe', id: 2, channel: 'uptime' });
    await reader.next(isOp('subscribed', 2));
    await reader.next(isOp('subscribed', 1));
    reader.send({ op: 'presence', id: 3, channel: 'cmd:a' });
    assert.deepEqual(await reader.next(isOp('presence', 3)), { op: 'presence', id: 3, channel: 'cmd:a', subscribers: 1 });

    const other = await TestClient.connect(t.ws);
    other.send({ op: 'auth', id: 1, token: await mintHs256({ sub: 'bob', channels: ['cmd:b'] }) });
    other.send({ op: 'presence', id: 2, channel: 'cmd:a' });
    other.send({ op: 'presence', id: 3, channel: 'uptime' });
    other.send({ op: 'presence', id: 4, channel: 'cmd:b' });
    await other.next(isOp('authed', 1));
    const refused = (await other.next(isOp('error', 2))) as ErrorMessage;
    assert.equal(refused.code, 'forbidden');
    assert.deepEqual(await other.next(isOp('presence', 3)), { op: 'presence', id: 3, channel: 'uptime', subscribers: 1 });
    assert.deepEqual(await other.next(isOp('presence', 4)), { op: 'presence', id: 4, channel: 'cmd:b', subscribers: 0 });
    assert.equal(other.messages.filter((m) => m.op === 'presence' && m.channel === 'cmd:a').length, 0);

    const anonymous = await TestClient.connect(t.ws);
    anonymous.send({ op: 'presence', id: 1, channel: 'cmd:a' });
    anonymous.send({ op: 'presence', id: 2, channel: 'uptime' });
    assert.equal(((await anonymous.next(isOp('error', 1))) as ErrorMessage).code, 'forbidden');
    assert.deepEqual(await anonymous.next(isOp('presence', 2)), { op: 'presence', id: 2, channel: 'uptime', subscribers: 1 });
    anonymous.send({ op: 'ping', id: 3 });
    await anonymous.next(isOp('pong', 3));
    await Promise.all([reader.close(), other.close(), anonymous.close()]);
  } finally {
    await t.close();
  }
});

test('with no key configured every channel is public, and auth is refused without closing', async () => {
  const t = await startTestGateway({});
  try {
    const c = await TestClient.connect(t.ws);
    c.send({ op: 'subscribe', id: 1, channel: 'cmd:secret' });
    await c.next(isOp('subscribed', 1));
    c.send({ op: 'auth', id: 2, token: await mintHs256({ sub: 'a' }) });
    assert.equal(((await c.next(isOp('error', 2))) as ErrorMessage).code, 'bad_request');
    c.send({ op: 'ping', id: 3 });
    await c.next(isOp('pong', 3));
    await c.close();
  } finally {
    await t.close();
  }
});

test('tokens signed by an issuer whose public keys are in AUTH_JWKS_FILE work; an HS256 token is then refused', async () => {
  const pair = await testKeyPair('ES256', 'issuer-1');
  const file = join(mkdtempSync(join(tmpdir(), 'gw-jwks-')), 'jwks.json');
  writeFileSync(file, jwksOf(pair));
  const t = await startTestGateway({ AUTH_JWKS_FILE: file });
  try {
    const c = await TestClient.connect(t.ws);
    c.send({ op: 'auth', id: 1, token: await mintWith(pair, { sub: 'svc', channels: ['cmd:a'] }) });
    c.send({ op: 'subscribe', id: 2, channel: 'cmd:a' });
    await c.next(isOp('subscribed', 2));
    await c.close();
    const d = await TestClient.connect(t.ws);
    d.send({ op: 'auth', id: 1, token: await mintHs256({ sub: 'mallory', channels: ['*'] }) });
    assert.equal((await d.closed).code, 4401);
  } finally {
    await t.close();
  }
});

test('token deadlines share one timer: 40 connections due at 40 different times hold one long timer, none once closed', async () => {
  const t = await startTestGateway(AUTH);
  // Every timer of a minute or more armed in this process while the connections come and go:
  // the expiry heap keeps one for the earliest deadline; a timer per connection would keep 40.
  const long = new Set<unknown>();
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle = realSetTimeout(() => {
      long.delete(handle);
      fn(...args);
    }, ms);
    if ((ms ?? 0) >= 60_000) long.add(handle);
    return handle;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((handle?: Parameters<typeof clearTimeout>[0]) => {
    long.delete(handle);
    realClearTimeout(handle);
  }) as typeof clearTimeout;
  const clients: TestClient[] = [];
  try {
    // Each later connection is due earlier than every one before it, so the heap re-arms each time.
    for (let i = 0; i < 40; i++) {
      const token = await mintHs256({ sub: `user-${i}`, channels: ['cmd:*'] }, { expiresIn: 3600 - i * 30 });
      clients.push(await TestClient.connect(t.ws, { headers: { authorization: `Bearer ${token}` } }));
    }
    for (const c of clients) {
      c.send({ op: 'ping', id: 1 });
      await c.next(isOp('pong', 1));
    }
    assert.equal(long.size, 1, `timers of a minute or more armed for 40 token deadlines: ${long.size}`);
    await Promise.all(clients.map((c) => c.close()));
    await waitFor('the last deadline gone', () => long.size === 0);
  } finally {
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
    await t.close();
  }
});
