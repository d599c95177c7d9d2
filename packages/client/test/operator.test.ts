import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { MegaphoneClient, type ClientError, type WebSocketConstructor } from '../src/index.js';
import { ManualClock } from '@megaphone/testing';
import { FakeGateway } from './fake-gateway.js';
import { assertStaysClosed } from './stays-closed.js';
import { waitFor } from './wait.js';

// What operators do to clients (SPEC §11), as the SDK sees it: a 4403 close, the presence command.

const WS = WebSocket as unknown as WebSocketConstructor;

function client(gw: FakeGateway, clock?: ManualClock): MegaphoneClient {
  return new MegaphoneClient({ url: gw.url, WebSocket: WS, backoff: { initialMs: 20, maxMs: 100 }, ...(clock ? { clock } : {}) });
}

test('4403 (disconnected by an operator) is final: an error that says why, no reconnect until connect()', async () => {
  const gw = await FakeGateway.start();
  const clock = new ManualClock();
  const c = client(gw, clock);
  try {
    const errors: ClientError[] = [];
    const states: string[] = [];
    c.on('error', (e) => errors.push(e));
    c.on('state', (s) => states.push(s.state));
    c.connect();
    await waitFor('open', () => c.state === 'open');
    gw.closeAll(4403, '{"reason":"operator"}');
    await waitFor('closed', () => c.state === 'closed');
    assert.equal(errors[0]?.kind, 'disconnected');
    assert.equal(errors[0]?.code, 4403);
    assert.match(errors[0]!.message, /disconnected by an operator/);
    assert.ok(!states.includes('reconnecting'));
    assertStaysClosed(c, clock);
    assert.equal(gw.connectionCount, 1, 'no reconnect on its own');
    c.connect();
    await waitFor('reopened', () => c.state === 'open');
  } finally {
    c.close();
    await gw.close();
  }
});

test('presence() resolves with the reply to its command, and rejects on a refusal or when not connected', async () => {
  const gw = await FakeGateway.start();
  const c = client(gw);
  try {
    await assert.rejects(c.presence('cmd:build'), /not connected/);
    c.connect();
    await waitFor('open', () => c.state === 'open');
    const [a, b] = await Promise.all([c.presence('cmd:build'), c.presence('uptime')]);
    assert.deepEqual([a, b], ['cmd:build'.length, 'uptime'.length]);
    await assert.rejects(c.presence('secret:x'), /forbidden/);
  } finally {
    c.close();
    await gw.close();
  }
});
