// @megaphone/testing's launcher of the local topology (what the tests, the bench and `npm run
// cluster` start): N producers and M gateways on a Redis it starts, and a stop() that ends them all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTopology, processAlive } from '@megaphone/testing';
import { BINS } from '../src/cluster/services.js';

test('starts two producers and two gateways behind a Node balancer, all ready; stop() ends every process', { timeout: 90_000 }, async () => {
  const t = await startTopology({ bins: BINS, producers: 2, gateways: 2, balancer: 'node', env: { LOG_LEVEL: 'warn' } });
  let stopped = false;
  try {
    assert.deepEqual(t.producers.map((p) => p.name), ['producer-1', 'producer-2']);
    assert.deepEqual(t.gateways.map((g) => g.name), ['gateway-1', 'gateway-2']);
    for (const s of [...t.producers, ...t.gateways]) assert.equal(await s.readyz(), 200, s.name);
    assert.equal(new Set([...t.producers, ...t.gateways].flatMap((s) => [s.port, s.adminPort])).size, 8, 'every service on its own ports');
    assert.equal(t.balancer?.kind, 'node');
    const page = await fetch(`${t.balancer!.url}/`);
    assert.equal(page.status, 200, 'the console through the balancer');
    await page.arrayBuffer();
    const pids = [t.redis.server!.pid!, ...t.producers.map((p) => p.pid), ...t.gateways.map((g) => g.pid)];
    assert.ok(pids.every(processAlive));
    await t.stop();
    stopped = true;
    assert.deepEqual(pids.filter(processAlive), []);
  } finally {
    if (!stopped) await t.stop();
  }
});
