import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadinessTracker } from '../src/bus-health.js';
import { CommandRateLimiter } from '../src/connections/rate-limit.js';
import { originAllowed } from '../src/http/origin.js';
import { GatewayWebSocket } from '../src/ws/ws-socket.js';

test('rate limiter: a burst of the rate, then refill over time; a flood becomes abusive', () => {
  let now = 0;
  const limiter = new CommandRateLimiter(10, () => now);
  const burst = Array.from({ length: 12 }, () => limiter.take());
  assert.deepEqual(burst.slice(0, 10), Array(10).fill('ok'));
  assert.deepEqual(burst.slice(10), ['limited', 'limited']);
  now += 500; // half a second: five tokens back
  assert.deepEqual(Array.from({ length: 6 }, () => limiter.take()), ['ok', 'ok', 'ok', 'ok', 'ok', 'limited']);
  // Slightly over the rate for a long time: refused commands, never closed.
  for (let i = 0; i < 200; i++) {
    now += 90;
    assert.notEqual(limiter.take(), 'abusive');
  }
  // Twice the rate: closed within a few seconds.
  let verdict = '';
  for (let i = 0; i < 200 && verdict !== 'abusive'; i++) {
    now += 50;
    verdict = limiter.take();
  }
  assert.equal(verdict, 'abusive');
});

test('readiness tracker: counts reconnects and the time to be ready again, not the first connect', () => {
  let now = 1000;
  const events: string[] = [];
  const tracker = new ReadinessTracker(false, {
    connected: (up) => events.push(`connected ${up}`),
    reconnected: () => events.push('reconnected'),
    resubscribed: (seconds) => events.push(`resubscribed ${seconds}`),
  }, () => now);
  tracker.readiness(true);
  now += 2500;
  tracker.readiness(false);
  tracker.readiness(false);
  now += 1500;
  tracker.readiness(true);
  assert.deepEqual(events, ['connected true', 'connected false', 'connected true', 'reconnected', 'resubscribed 1.5']);
});

test('origin policy: same-origin compares scheme, host and port exactly; lists are exact; * allows any', () => {
  const same = { kind: 'same-origin' } as const;
  assert.equal(originAllowed(same, { host: 'gw.example:8080', origin: 'https://gw.example:8080' }, 'https'), true);
  assert.equal(originAllowed(same, { host: 'gw.example:8080', origin: 'https://gw.example:8080' }, 'http'), false, 'another scheme');
  assert.equal(originAllowed(same, { host: 'GW.example', origin: 'http://gw.example' }, 'http'), true);
  assert.equal(originAllowed(same, { host: 'gw.example:80', origin: 'http://gw.example' }, 'http'), true, 'default port');
  assert.equal(originAllowed(same, { host: '[::1]:8080', origin: 'http://[::1]:8080' }, 'http'), true);
  assert.equal(originAllowed(same, { host: 'gw.example:8080', origin: 'https://gw.example:8081' }, 'https'), false);
  assert.equal(originAllowed(same, { host: 'gw.example', origin: 'https://gw.example.evil' }, 'https'), false);
  assert.equal(originAllowed(same, { host: 'gw.example', origin: 'null' }, 'http'), false);
  assert.equal(originAllowed(same, { origin: 'https://gw.example' }, 'https'), false, 'no Host to compare with');
  assert.equal(originAllowed(same, { host: 'gw.example' }, 'http'), true, 'no Origin: not a browser page');
  const list = { kind: 'list', origins: ['https://app.example'] } as const;
  assert.equal(originAllowed(list, { host: 'gw', origin: 'https://app.example' }, 'http'), true);
  assert.equal(originAllowed(list, { host: 'gw', origin: 'HTTPS://APP.EXAMPLE' }, 'http'), true);
  assert.equal(originAllowed(list, { host: 'gw', origin: 'http://app.example' }, 'http'), false);
  assert.equal(originAllowed({ kind: 'any' }, { host: 'gw', origin: 'null' }, 'http'), true);
});

test('a gateway WebSocket holds no listener dictionary until someone adds a listener, and listeners still work', () => {
  const ws = new GatewayWebSocket(null, undefined, {});
  const internals = ws as unknown as { _events: object | undefined };
  assert.equal(internals._events, undefined);
  assert.equal(ws.listenerCount('close'), 0);
  assert.equal(ws.emit('pong', Buffer.alloc(0)), false);
  // An 'error' with nobody listening is absorbed (logged by the client when there is one), not thrown.
  assert.equal(ws.emit('error', new Error('boom')), true);
  const seen: unknown[] = [];
  ws.on('close', (code: number) => seen.push(code));
  assert.notEqual(internals._events, undefined);
  assert.equal(ws.emit('close', 1000, Buffer.alloc(0)), true);
  assert.deepEqual(seen, [1000]);
});
