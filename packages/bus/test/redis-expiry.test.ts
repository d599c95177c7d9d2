import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisServer } from '@megaphone/testing';
import type { RedisBus } from '../src/redis-bus.js';
import { redisBus, standaloneConfig } from './redis-helpers.js';

describe('RedisBus key expiry (idle channels do not leak)', () => {
  let server: RedisServer;
  let bus: RedisBus;
  const historyTtlMs = 60_000;
  const metaTtlMs = 3_600_000;

  before(async () => {
    server = await RedisServer.start();
    bus = await redisBus(standaloneConfig(server.url, { metaTtlMs }), () => ({ size: 10, ttlMs: historyTtlMs }));
  });
  after(async () => {
    await bus?.close();
    await server?.close();
  });

  const pttl = async (key: string): Promise<number> => Number(await server.cli('PTTL', key));

  it('keeps the epoch of a published channel for REDIS_META_TTL_MS and its history for the history TTL', async () => {
    await bus.publish('ttl:pub', '1');
    const meta = await pttl('{mp:ttl:pub}:m');
    const stream = await pttl('{mp:ttl:pub}:s');
    assert.ok(meta > historyTtlMs && meta <= metaTtlMs, `meta PTTL ${meta}`);
    assert.ok(stream > 0 && stream <= historyTtlMs, `stream PTTL ${stream}`);
  });

  it('keeps the epoch of a channel that was only read for the history TTL only', async () => {
    const h = await bus.history('ttl:read');
    assert.equal(h.offset, 0);
    const meta = await pttl('{mp:ttl:read}:m');
    assert.ok(meta > 0 && meta <= historyTtlMs, `meta PTTL ${meta}`);
    assert.equal(await pttl('{mp:ttl:read}:s'), -2, 'no stream for a channel without publications');
  });

  it('starts a new epoch when a channel’s meta key is gone, dropping any stale history', async () => {
    const first = await bus.publish('ttl:gone', '1');
    await server.cli('DEL', '{mp:ttl:gone}:m');
    const next = await bus.publish('ttl:gone', '2');
    assert.notEqual(next.epoch, first.epoch);
    assert.equal(next.offset, 1);
    const h = await bus.history('ttl:gone');
    assert.deepEqual(h.publications.map((p) => [p.epoch, p.offset]), [[next.epoch, 1]]);
  });
});
