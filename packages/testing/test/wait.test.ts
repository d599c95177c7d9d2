import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, portIsFree, waitFor, WaitAborted } from '../src/index.js';

test('waitFor returns the first truthy value of the check', async () => {
  let n = 0;
  assert.equal(await waitFor('n to reach 3', () => (++n >= 3 ? `n=${n}` : undefined), { intervalMs: 1 }), 'n=3');
});

test('waitFor names what it waited for and the last error on timeout', async () => {
  await assert.rejects(
    waitFor('the impossible', () => {
      throw new Error('still broken');
    }, { timeoutMs: 30, intervalMs: 5 }),
    /timed out after 30 ms waiting for the impossible \(last error: still broken\)/,
  );
});

test('a check that throws WaitAborted ends the wait at once', async () => {
  const t0 = Date.now();
  await assert.rejects(waitFor('a dead process', () => {
    throw new WaitAborted('it exited');
  }, { timeoutMs: 10_000 }), /it exited/);
  assert.ok(Date.now() - t0 < 1000);
});

test('freePort gives a bindable port outside the ephemeral range, never 6379; with clusterBus port + 10000 is free and outside it too', async () => {
  const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
  const outside = (port: number): boolean => port < lo || port > hi;
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    assert.notEqual(p, 6379);
    assert.ok(outside(p), `${p} is in the ephemeral range ${lo}-${hi}`);
    assert.equal(await portIsFree(p), true);
  }
  const c = await freePort({ clusterBus: true });
  assert.ok(c + 10000 <= 65535);
  assert.ok(outside(c) && outside(c + 10000), `${c} or its bus port is in the ephemeral range`);
  assert.equal(await portIsFree(c + 10000), true);
});
