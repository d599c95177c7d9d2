import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BusConfig } from '../src/config.js';
import type { RedisBus } from '../src/redis-bus.js';
import { RedisSentinelGroup } from '@megaphone/testing';
import { waitFor } from '@megaphone/testing';
import { Recorder, publishWhenUp, redisBus } from './redis-helpers.js';

describe('RedisBus through Sentinel', () => {
  let group: RedisSentinelGroup;
  let config: BusConfig;
  let publisher: RedisBus;
  let subscriber: RedisBus;
  let rec: Recorder;

  before(async () => {
    group = await RedisSentinelGroup.start();
    config = { kind: 'redis', keyPrefix: 'mp', mode: 'sentinel', sentinels: group.sentinelAddresses, name: group.name };
    publisher = await redisBus(config, undefined, { clientName: 'pub' });
    subscriber = await redisBus(config, undefined, { clientName: 'sub' });
    rec = new Recorder(subscriber);
  });
  after(async () => {
    await publisher?.close();
    await subscriber?.close();
    await group?.close();
  });

  for (const how of ['command', 'kill'] as const) {
    it(`follows a failover (${how === 'command' ? 'SENTINEL FAILOVER' : 'master killed'}): publishing and the subscription resume on the new master`, async () => {
      const ch = `f:${how}`;
      await subscriber.subscribe(ch);
      const first = await publisher.publish(ch, '1');
      await waitFor('the first publication', () => rec.on(ch).length === 1);
      const resubscribedBefore = rec.resubscribed.length;
      const { to } = await group.failover(how);
      await waitFor('the subscriber to resubscribe', () => rec.resubscribed.length > resubscribedBefore, { timeoutMs: 30_000 });
      await waitFor('both nodes ready', () => subscriber.isReady() && publisher.isReady(), { timeoutMs: 30_000 });
      const pos = await publishWhenUp(publisher, ch, '2', 30_000);
      await waitFor('the publication after the failover', () => rec.on(ch).some((p) => p.offset === pos.offset && p.epoch === pos.epoch), { timeoutMs: 15_000 });
      // The publish went to the new master.
      assert.equal(await to.cli('HGET', '{mp:' + ch + '}:m', 'o'), String(pos.offset));
      // Replication is asynchronous, so the new master may lack the old one's last publications:
      // the channel gets a new epoch (clients are told), never the old epoch with reused offsets.
      assert.notEqual(pos.epoch, first.epoch);
      assert.equal(pos.offset, 1);
      // History restarts with the epoch: resuming in the old epoch is reported as not recovered.
      const h = await subscriber.history(ch, { since: first });
      assert.deepEqual({ recovered: h.recovered, epoch: h.epoch }, { recovered: false, epoch: pos.epoch });
    });
  }
});
