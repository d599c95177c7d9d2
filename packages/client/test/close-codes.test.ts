import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ManualClock } from '@megaphone/testing';
import { MegaphoneClient, type ClientError, type StateChange, type WebSocketConstructor } from '../src/index.js';
import { FakeGateway } from './fake-gateway.js';
import { assertStaysClosed } from './stays-closed.js';
import { waitFor } from './wait.js';

// What the client does after each kind of close (close-policy.ts), on a clock the test runs: a
// reconnect is a timer, so "not retried" is "no timer armed" and "not before the hint" is exact.

const WS = WebSocket as unknown as WebSocketConstructor;

/** A fake gateway and a client of it on a manual clock (not yet connected); both closed after `body`. */
async function withClient(body: (gw: FakeGateway, c: MegaphoneClient, clock: ManualClock) => Promise<void>): Promise<void> {
  const gw = await FakeGateway.start();
  const clock = new ManualClock();
  const c = new MegaphoneClient({ url: gw.url, WebSocket: WS, backoff: { initialMs: 20, maxMs: 100 }, clock });
  try {
    await body(gw, c, clock);
  } finally {
    c.close();
    await gw.close();
  }
}

test('a policy close (1008) is not retried and is reported', () =>
  withClient(async (gw, c, clock) => {
    const errors: ClientError[] = [];
    c.on('error', (e) => errors.push(e));
    c.connect();
    await waitFor('open', () => c.state === 'open');
    gw.closeAll(1008, 'origin not allowed');
    await waitFor('closed', () => c.state === 'closed');
    assertStaysClosed(c, clock);
    assert.equal(gw.connectionCount, 1);
    assert.equal(errors[0]?.kind, 'fatal');
    assert.equal(errors[0]?.code, 1008);
  }));

test('4401 emits an auth error and waits for connect()', () =>
  withClient(async (gw, c, clock) => {
    const errors: ClientError[] = [];
    c.on('error', (e) => errors.push(e));
    c.connect();
    await waitFor('open', () => c.state === 'open');
    gw.closeAll(4401, 'token expired');
    await waitFor('closed', () => c.state === 'closed');
    assert.equal(errors[0]?.kind, 'unauthorized');
    assertStaysClosed(c, clock);
    assert.equal(gw.connectionCount, 1);
    c.connect();
    await waitFor('reopened', () => c.state === 'open');
    assert.equal(gw.connectionCount, 2);
  }));

test('a draining close (1001) waits at least the hinted delay before reconnecting', () =>
  withClient(async (gw, c, clock) => {
    const states: StateChange[] = [];
    c.on('state', (s) => states.push(s));
    c.connect();
    await waitFor('open', () => c.state === 'open');
    gw.closeAll(1001, '{"retryAfterMs":300}');
    await waitFor('reconnecting', () => c.state === 'reconnecting');
    const reconnecting = states.find((s) => s.state === 'reconnecting');
    assert.ok(reconnecting?.delayMs !== undefined && reconnecting.delayMs >= 300, `a delay of ${reconnecting?.delayMs} ms`);
    assert.equal(reconnecting.closeCode, 1001);
    assert.equal(clock.nextDueIn, reconnecting.delayMs, 'the reconnect is armed for the delay it announced');
    clock.advance(299);
    assert.equal(states.filter((s) => s.state === 'reconnecting').length, 1, 'no attempt before the hint');
    clock.advance(reconnecting.delayMs - 299);
    assert.equal(states.filter((s) => s.state === 'reconnecting').length, 2, 'the attempt when its delay is up');
    await waitFor('reconnected', () => gw.connectionCount === 2 && c.state === 'open');
  }));

test('reconnectNow skips the backoff wait, and does nothing when no reconnect is scheduled', async () => {
  let gw = await FakeGateway.start();
  const port = gw.port;
  const clock = new ManualClock();
  const c = new MegaphoneClient({ url: gw.url, WebSocket: WS, clock, backoff: { initialMs: 60_000, maxMs: 60_000, random: () => 0.99 } });
  try {
    c.connect();
    await waitFor('open', () => c.state === 'open');
    await gw.close();
    await waitFor('reconnecting', () => c.state === 'reconnecting');
    assert.equal(clock.armed, 1, 'the reconnect, and nothing else');
    assert.ok(clock.nextDueIn! >= 59_000, `the reconnect is due in ${clock.nextDueIn} ms`);
    gw = await FakeGateway.start(port);
    c.reconnectNow();
    assert.equal(clock.armed, 0, 'the scheduled reconnect is cancelled');
    await waitFor('open again', () => c.state === 'open');
    const changes: string[] = [];
    c.on('state', (s) => changes.push(s.state));
    c.reconnectNow(); // nothing scheduled: no effect
    assert.deepEqual(changes, []);
    assert.equal(gw.connectionCount, 1);
  } finally {
    c.close();
    await gw.close();
  }
});
