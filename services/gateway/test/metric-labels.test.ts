import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOp, startTestGateway, TestClient } from './helpers.js';

test('the namespace label takes the configured namespaces and "other", whatever namespaces clients name', async () => {
  const t = await startTestGateway({ GATEWAY_MAX_SUBSCRIPTIONS: '300', GATEWAY_MAX_COMMANDS_PER_SECOND: '1000', CHANNEL_NAMESPACES: '{"news":{"historySize":10}}' });
  const c = await TestClient.connect(t.ws);
  try {
    const channels = ['news:a', 'cmd:build', 'uptime', ...Array.from({ length: 200 }, (_, i) => `ns${i}:x`)];
    channels.forEach((channel, i) => c.send({ op: 'subscribe', id: i, channel }));
    await c.until((ms) => ms.filter(isOp('subscribed')).length === channels.length);
    for (const ch of channels) await t.bus.publish(ch, '1');
    await c.until((ms) => ms.filter((m) => m.op === 'message').length === channels.length);
    const text = await (await fetch(`${t.admin}/metrics`)).text();
    for (const name of ['megaphone_bus_publications_received_total', 'megaphone_deliveries_total']) {
      const series = text.split('\n').filter((l) => l.startsWith(`${name}{`));
      const labels = series.map((l) => /namespace="([^"]*)"/.exec(l)?.[1]).sort();
      assert.deepEqual(labels, ['', 'cmd', 'news', 'other'], name);
      assert.match(text, new RegExp(`${name}\\{[^}]*namespace="other"[^}]*\\} 200\\n`));
    }
  } finally {
    await c.close();
    await t.close();
  }
});
