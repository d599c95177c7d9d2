import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { TEST_SECRET, mintHs256 } from '@megaphone/auth/testing';
import { httpGet, startTestGateway } from './helpers.js';
import { SseStream } from './sse-helpers.js';

const AUTH = { AUTH_JWT_SECRET: TEST_SECRET, AUTH_PUBLIC_CHANNELS: 'uptime' };

test('SSE: no token for a private channel is 401, a token that does not cover it 403, one that does streams', async () => {
  const t = await startTestGateway(AUTH);
  try {
    const token = await mintHs256({ sub: 'alice', channels: ['cmd:a'] });
    const none = await httpGet(`${t.base}/sse?channel=uptime&channel=cmd:a`);
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assert.equal((JSON.parse(none.body) as { error: { code: string } }).error.code, 'unauthorized');
    assert.equal((await httpGet(`${t.base}/sse?channel=cmd:b&token=${token}`)).status, 403);
    assert.equal((await httpGet(`${t.base}/sse?channel=cmd:a`, { authorization: 'Bearer nope.nope.nope' })).status, 401);
    const pub = await SseStream.open(`${t.base}/sse?channel=uptime`);
    assert.equal(pub.res.statusCode, 200);
    pub.close();
    for (const s of [
      await SseStream.open(`${t.base}/sse?channel=cmd:a&channel=uptime&token=${token}`),
      await SseStream.open(`${t.base}/sse?channel=cmd:a`, { authorization: `Bearer ${token}` }),
    ]) {
      assert.equal(s.res.statusCode, 200);
      await s.until(() => s.events.some((e) => e.event === 'subscribed'));
      await t.bus.publish('cmd:a', '{"n":1}');
      await s.until(() => s.publications('cmd:a').length >= 1);
      s.close();
    }
  } finally {
    await t.close();
  }
});

test('SSE: the stream ends when its token expires', async () => {
  const t = await startTestGateway(AUTH);
  try {
    const dying = await mintHs256({ sub: 'alice', channels: ['cmd:a'] }, { expiresIn: -28 });
    const s = await SseStream.open(`${t.base}/sse?channel=cmd:a&token=${dying}`);
    assert.equal(s.res.statusCode, 200);
    await s.until(() => s.ended, 5000).catch(() => undefined);
    assert.equal(s.ended, true);
  } finally {
    await t.close();
  }
});

test('the token never appears in a log line or a metric', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level: 'trace' }, sink);
  const t = await startTestGateway(AUTH, { logger });
  try {
    const good = await mintHs256({ sub: 'alice', channels: ['cmd:a'] });
    const bad = await mintHs256({ sub: 'mallory', channels: ['*'] }, { expiresIn: -120 });
    const s = await SseStream.open(`${t.base}/sse?channel=cmd:a&token=${good}`);
    await s.until(() => s.events.some((e) => e.event === 'subscribed'));
    s.close();
    assert.equal((await httpGet(`${t.base}/sse?channel=cmd:a&token=${bad}`)).status, 401);
    assert.equal((await httpGet(`${t.base}/sse?channel=cmd:a`, { authorization: `Bearer ${bad}` })).status, 401);
    const metrics = await httpGet(`${t.admin}/metrics`);
    for (const token of [good, bad]) {
      const signature = token.split('.')[2]!;
      assert.ok(!lines.some((l) => l.includes(signature)), 'no log line carries the token');
      assert.ok(!metrics.body.includes(signature), 'no metric carries the token');
    }
    assert.ok(lines.some((l) => l.includes('"sub":"alice"')), 'the sub is logged (at debug)');
  } finally {
    await t.close();
  }
});
