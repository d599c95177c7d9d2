import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BusConfig } from '../src/config.js';
import { channelKeys } from '../src/redis/keys.js';
import type { RedisBus } from '../src/redis-bus.js';
import { RedisCluster } from '@megaphone/testing';
import { waitFor } from '@megaphone/testing';
import { Recorder, publishWhenUp, redisBus } from './redis-helpers.js';

describe('RedisBus on a Redis Cluster with replicas', () => {
  let cluster: RedisCluster;
  let publisher: RedisBus;
  let subscriber: RedisBus;
  let rec: Recorder;
  const channels = Array.from({ length: 9 }, (_, i) => `r:${i}`);

  before(async () => {
    cluster = await RedisCluster.start({ masters: 3, replicas: 1 });
    const config: BusConfig = { kind: 'redis', keyPrefix: 'mp', mode: 'cluster', nodes: cluster.seeds };
    publisher = await redisBus(config, undefined, { clientName: 'pub' });
    subscriber = await redisBus(config, undefined, { clientName: 'sub' });
    rec = new Recorder(subscriber);
    for (const ch of channels) await subscriber.subscribe(ch);
  });
  after(async () => {
    await publisher?.close();
    await subscriber?.close();
    await cluster?.close();
  });

  it('after a master fails over to its replica: its channels move to the new master with a new epoch, the others keep theirs', async () => {
    const victim = await cluster.nodeForKey(channelKeys('mp', channels[0]!).pubsub);
    const onVictim: string[] = [];
    for (const ch of channels) if ((await cluster.nodeForKey(channelKeys('mp', ch).pubsub)) === victim) onVictim.push(ch);
    const before = new Map<string, { epoch: string; offset: number }>();
    for (const ch of channels) before.set(ch, await publisher.publish(ch, '"before"'));
    await waitFor('every publication before the failover', () => channels.every((c) => rec.on(c).length === 1));

    const promoted = await cluster.failoverMaster(victim);
    assert.notEqual(promoted.port, victim.port);

    for (const ch of channels) {
      const pos = await publishWhenUp(publisher, ch, '"after"', 30_000);
      const old = before.get(ch)!;
      if (onVictim.includes(ch)) {
        // The replica may lack the last writes (asynchronous replication): the failover guard gives
        // the channel a new epoch rather than reusing offsets.
        assert.notEqual(pos.epoch, old.epoch, `${ch} moved to a new master`);
        assert.equal(pos.offset, 1);
      } else assert.deepEqual(pos, { epoch: old.epoch, offset: 2 }, `${ch} stayed on its master`);
    }
    await waitFor('the subscriptions to follow the slots to the new master', () => rec.resubscribed.some((c) => onVictim.every((ch) => c.includes(ch))), { timeoutMs: 30_000 });
    await waitFor('subscriber ready', () => subscriber.isReady(), { timeoutMs: 30_000 });
    // Publications published between the failover and the resubscription may be missed live (the
    // node then reads them from history); publish once more and require live delivery on every channel.
    const last = new Map<string, number>();
    for (const ch of channels) last.set(ch, (await publisher.publish(ch, '"live"')).offset);
    await waitFor('live delivery on every channel after the failover', () => channels.every((c) => rec.on(c).some((p) => p.offset === last.get(c))), { timeoutMs: 15_000 });
    const shard = await promoted.cli('PUBSUB', 'SHARDNUMSUB', ...onVictim.map((c) => channelKeys('mp', c).pubsub));
    const counts = shard.split('\n').filter((_, i) => i % 2 === 1).map(Number);
    assert.deepEqual(counts, onVictim.map(() => 1), 'one subscription per channel on the new master');
  });
});
