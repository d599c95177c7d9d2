import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AddressLimits } from '../src/connections/address-limits.js';
import { ClientAddresses, limitKey, parseCidr } from '../src/http/client-address.js';
import type { IncomingMessage } from 'node:http';
import { httpGet, startTestGateway, upgradeStatus, TestClient } from './helpers.js';

test('connections per address: at most N open, a slot comes back on release', () => {
  const l = new AddressLimits({ maxConnections: 2, connectsPerSecond: 100 });
  assert.ok(l.admit('a').ok && l.admit('a').ok);
  const third = l.admit('a');
  assert.ok(!third.ok && /at most 2 connections/.test(third.reason) && third.retryAfterSec > 0);
  assert.ok(l.admit('b').ok, 'another address is not affected');
  l.release('a');
  assert.ok(l.admit('a').ok);
});

test('connects per second per address: a burst of the rate, then refill over time', () => {
  let now = 0;
  const l = new AddressLimits({ maxConnections: 1000, connectsPerSecond: 5, now: () => now });
  for (let i = 0; i < 5; i++) assert.ok(l.admit('a').ok);
  const refused = l.admit('a');
  assert.ok(!refused.ok && refused.retryAfterSec === 1);
  now += 200;
  assert.ok(l.admit('a').ok, 'one more after a fifth of a second');
  assert.ok(!l.admit('a').ok);
});

test('the per-address table stays bounded under address spraying', () => {
  const l = new AddressLimits({ maxConnections: 4, connectsPerSecond: 10, maxTracked: 1000 });
  for (let i = 0; i < 200_000; i++) {
    const key = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    assert.ok(l.admit(key).ok);
    l.release(key);
  }
  assert.deepEqual(l.size, { open: 0, tracked: 1000 });
  // Open connections are held per address, bounded by the connections themselves.
  for (let i = 0; i < 500; i++) l.admit(`192.168.0.${i % 250}`);
  assert.ok(l.size.open <= 250 && l.size.tracked <= 1000);
});

function req(remoteAddress: string, xff?: string, proto?: string): IncomingMessage {
  const headers: Record<string, string> = {};
  if (xff !== undefined) headers['x-forwarded-for'] = xff;
  if (proto !== undefined) headers['x-forwarded-proto'] = proto;
  return { socket: { remoteAddress }, headers } as unknown as IncomingMessage;
}

test('X-Forwarded-For is believed only from trusted proxies, and only its rightmost untrusted entry', () => {
  const none = new ClientAddresses([]);
  assert.equal(none.of(req('203.0.113.9', '1.2.3.4')), '203.0.113.9');
  const a = new ClientAddresses(['10.0.0.0/8', 'fd00::/8']);
  assert.equal(a.of(req('10.1.2.3', '1.2.3.4')), '1.2.3.4');
  assert.equal(a.of(req('::ffff:10.1.2.3', '6.6.6.6, 1.2.3.4, 10.9.9.9')), '1.2.3.4', 'spoofed entries on the left are ignored');
  assert.equal(a.of(req('10.1.2.3', '10.0.0.7, 10.0.0.8')), '10.0.0.7', 'all trusted: the leftmost');
  assert.equal(a.of(req('10.1.2.3', 'garbage')), '10.1.2.3');
  assert.equal(a.of(req('10.1.2.3')), '10.1.2.3');
  assert.equal(a.of(req('fd00::5', '2001:db8::1')), '2001:db8::1');
  assert.equal(a.scheme(req('10.1.2.3', undefined, 'https')), 'https');
  assert.equal(a.scheme(req('203.0.113.9', undefined, 'https')), 'http', 'an untrusted peer cannot claim https');
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('nope'), undefined);
  assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
});

test('IPv6 addresses are limited per /64', () => {
  assert.equal(limitKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(limitKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(limitKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(limitKey('::1'), '0:0:0:0::/64');
  assert.equal(limitKey('192.0.2.1'), '192.0.2.1');
});

test('beyond the per-address limits the upgrade and SSE get 429 with retry-after', async () => {
  const t = await startTestGateway({ GATEWAY_MAX_CONNECTIONS_PER_IP: '2', GATEWAY_CONNECTS_PER_IP_PER_SECOND: '1000' });
  try {
    const a = await TestClient.connect(t.ws);
    const b = await TestClient.connect(t.ws);
    assert.equal(await upgradeStatus(t.ws), 429);
    const sse = await httpGet(`${t.base}/sse?channel=x`);
    assert.equal(sse.status, 429);
    assert.ok(Number(sse.headers['retry-after']) >= 1);
    await a.close();
    // The slot comes back when the connection is gone (the close is seen by the server a moment later).
    let status = 0;
    for (let i = 0; i < 100 && status !== 101; i++) status = await upgradeStatus(t.ws);
    assert.equal(status, 101);
    await b.close();
  } finally {
    await t.close();
  }
  const r = await startTestGateway({ GATEWAY_CONNECTS_PER_IP_PER_SECOND: '3' });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await upgradeStatus(r.ws));
    assert.deepEqual(statuses, [101, 101, 101, 429, 429]);
  } finally {
    await r.close();
  }
});
