import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ManualClock } from '@megaphone/testing';
import { MegaphoneClient, type WebSocketConstructor } from '../src/index.js';
import { FakeGateway } from './fake-gateway.js';
import { assertStaysClosed } from './stays-closed.js';
import { waitFor } from './wait.js';

// A subscribe a busy server refuses (rate_limited, history_unavailable) is sent again after the
// server's hint plus jitter, on the client's clock; the retry must not outlive the subscription,
// the connection it was refused on, or the client.

const WS = WebSocket as unknown as WebSocketConstructor;
const HINT_MS = 1000;
/** The latest a retry can come: the hint plus the most jitter (max(1500, hint / 2)). */
const LATEST_MS = HINT_MS + 1500;

/** A fake gateway that refuses the first subscribe with rate_limited; `answer` decides the rest. */
async function withRefusingGateway(
  answer: 'accept' | 'silent',
  body: (gw: FakeGateway, c: MegaphoneClient, clock: ManualClock, subscribes: () => number) => Promise<void>,
): Promise<void> {
  const gw = await FakeGateway.start();
  let seen = 0;
  gw.onSubscribe = (ws, cmd) => {
    seen++;
    if (seen === 1) {
      gw.send(ws, { op: 'error', id: cmd.id, code: 'rate_limited', message: 'slow down', retryAfterMs: HINT_MS });
      return true;
    }
    return answer === 'silent';
  };
  const clock = new ManualClock();
  const c = new MegaphoneClient({ url: gw.url, WebSocket: WS, backoff: { initialMs: 20, maxMs: 100 }, clock });
  try {
    await body(gw, c, clock, () => seen);
  } finally {
    c.close();
    await gw.close();
  }
}

function refusedOnce(c: MegaphoneClient): { refused: () => boolean } {
  let refused = false;
  c.subscribe('busy', { onMessage: () => {}, onError: (e) => (refused ||= e.code === 'rate_limited') });
  return { refused: () => refused };
}

test('a rate_limited subscribe is sent again after the hint and goes live', () =>
  withRefusingGateway('accept', async (_gw, c, clock, subscribes) => {
    const { refused } = refusedOnce(c);
    await waitFor('the refusal', refused);
    clock.advance(HINT_MS - 1);
    assert.equal(subscribes(), 1, 'not before the hint');
    clock.advance(LATEST_MS - HINT_MS + 1);
    await waitFor('subscribed on the retry', () => c.position('busy'));
    assert.equal(subscribes(), 2);
  }));

test('close() cancels a pending subscribe retry: no timer is left armed', () =>
  withRefusingGateway('accept', async (_gw, c, clock, subscribes) => {
    const { refused } = refusedOnce(c);
    await waitFor('the refusal', refused);
    c.close();
    assertStaysClosed(c, clock);
    assert.equal(subscribes(), 1);
  }));

test('unsubscribing cancels the retry', () =>
  withRefusingGateway('accept', async (_gw, c, clock, subscribes) => {
    c.connect();
    await waitFor('open', () => c.state === 'open');
    const armedWhileOpen = clock.armed;
    let refused = false;
    const off = c.subscribe('busy', { onMessage: () => {}, onError: () => (refused = true) });
    await waitFor('the refusal', () => refused);
    assert.equal(clock.armed, armedWhileOpen + 1, 'the retry is armed');
    off();
    assert.equal(clock.armed, armedWhileOpen, 'and disarmed by the unsubscribe');
    clock.advance(LATEST_MS);
    assert.equal(subscribes(), 1);
  }));

test('a retry armed on a connection that ended does not send a second subscribe on the next one', () =>
  withRefusingGateway('silent', async (gw, c, clock, subscribes) => {
    const { refused } = refusedOnce(c);
    await waitFor('the refusal', refused);
    gw.closeAll(1011, 'restarting');
    await waitFor('reconnecting', () => c.state === 'reconnecting');
    clock.advance(100); // the reconnect backoff (at most maxMs)
    await waitFor('reopened', () => c.state === 'open');
    await waitFor('the renewed subscribe', () => subscribes() === 2);
    // The gateway has not answered the renewed subscribe, so the subscription is not live: a retry
    // left over from the first connection would send it again now.
    clock.advance(LATEST_MS);
    // Commands on one connection arrive in order: once a later one is answered, a retry sent by
    // that advance would have been seen.
    assert.equal(await c.presence('after'), 'after'.length);
    assert.equal(subscribes(), 2);
  }));
