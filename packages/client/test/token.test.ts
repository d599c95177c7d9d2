import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import type { ClientCommand } from '@megaphone/protocol';
import { MegaphoneClient, type ClientError, type WebSocketConstructor } from '../src/index.js';
import { ManualClock } from '@megaphone/testing';
import { FakeGateway } from './fake-gateway.js';
import { assertStaysClosed } from './stays-closed.js';
import { waitFor } from './wait.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const ops = (cmds: ClientCommand[]): string[] => cmds.map((c) => (c.op === 'auth' ? `auth:${c.token}` : c.op === 'subscribe' ? `subscribe:${c.channel}` : c.op));

test('a fixed token is sent in an auth command before the subscribes, on every connection', async () => {
  const gw = await FakeGateway.start();
  gw.onAuth = () => 3600_000;
  const c = new MegaphoneClient({ url: gw.url, WebSocket: WS, token: 'a.b.c', backoff: { initialMs: 20, maxMs: 50 } });
  try {
    const authed: number[] = [];
    c.on('authed', (a) => authed.push(a.expiresAt));
    let got = 0;
    c.subscribe('cmd:a', { onMessage: () => got++ });
    await waitFor('authed', () => authed.length === 1);
    assert.deepEqual(ops(gw.commands), ['auth:a.b.c', 'subscribe:cmd:a']);
    gw.terminateAll();
    await waitFor('authed again after a reconnect', () => authed.length === 2);
    assert.deepEqual(ops(gw.commands).slice(2), ['auth:a.b.c', 'subscribe:cmd:a']);
    gw.publish('cmd:a', { n: 1 });
    await waitFor('a publication', () => got === 1);
  } finally {
    c.close();
    await gw.close();
  }
});

test('getToken is asked again before the token expires, and the new one is sent on the same connection', async () => {
  const gw = await FakeGateway.start();
  gw.onAuth = () => 1200; // the earliest refresh is a second away
  let n = 0;
  const c = new MegaphoneClient({ url: gw.url, WebSocket: WS, getToken: async () => `t.${++n}.x` });
  try {
    c.connect();
    await waitFor('a refresh', () => ops(gw.commands).includes('auth:t.2.x'), { timeoutMs: 5000 });
    assert.equal(gw.connectionCount, 1);
    assert.deepEqual(ops(gw.commands).slice(0, 2), ['auth:t.1.x', 'auth:t.2.x']);
  } finally {
    c.close();
    await gw.close();
  }
});

test('after a 4401 the client asks getToken once more and reconnects; a second 4401 in a row gives up', async () => {
  const gw = await FakeGateway.start();
  const accepted = new Set(['good.2.x']);
  gw.onAuth = (token) => (accepted.has(token) ? 3600_000 : undefined);
  let n = 0;
  const c = new MegaphoneClient({ url: gw.url, WebSocket: WS, getToken: () => (n++ === 0 ? 'bad.1.x' : `good.${n}.x`), backoff: { initialMs: 20, maxMs: 50 } });
  try {
    const errors: ClientError[] = [];
    c.on('error', (e) => errors.push(e));
    c.subscribe('cmd:a', { onMessage: () => {} });
    await waitFor('in with the second token', () => gw.commands.some((cmd) => cmd.op === 'subscribe') && c.state === 'open' && n === 2);
    await waitFor('reconnected', () => gw.connectionCount === 2 && ops(gw.commands).includes('auth:good.2.x'));
    assert.equal(errors[0]?.kind, 'unauthorized');
    // Now every token is refused: one more try, then closed for good.
    accepted.clear();
    gw.closeAll(4401, 'token expired');
    await waitFor('gave up', () => c.state === 'closed');
    assert.equal(gw.connectionCount, 3, 'exactly one more attempt');
    assert.equal(errors.at(-1)?.kind, 'unauthorized');
  } finally {
    c.close();
    await gw.close();
  }
});

test('with a fixed token a 4401 is final: a new token is the application’s to give', async () => {
  const gw = await FakeGateway.start();
  gw.onAuth = () => undefined;
  const clock = new ManualClock();
  const c = new MegaphoneClient({ url: gw.url, WebSocket: WS, token: 'x.y.z', clock, backoff: { initialMs: 20, maxMs: 50 } });
  try {
    const errors: ClientError[] = [];
    c.on('error', (e) => errors.push(e));
    c.connect();
    await waitFor('closed', () => c.state === 'closed');
    assert.equal(errors.at(-1)?.kind, 'unauthorized');
    assert.equal(errors.at(-1)?.code, 4401);
    assertStaysClosed(c, clock);
    assert.equal(gw.connectionCount, 1);
  } finally {
    c.close();
    await gw.close();
  }
});
