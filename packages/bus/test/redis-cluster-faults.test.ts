import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BusConfig } from '../src/config.js';
import { channelKeys, controlPubsub } from '../src/redis/keys.js';
import type { RedisBus } from '../src/redis-bus.js';
import { RedisCluster, type RedisServer } from '@megaphone/testing';
import { DEFAULT_TIMEOUTS } from '../src/redis/options.js';
import { waitFor } from '@megaphone/testing';
import { Recorder, publishWhenUp, redisBus } from './redis-helpers.js';

const HUNG_BOUND_MS = DEFAULT_TIMEOUTS.pingIntervalMs + DEFAULT_TIMEOUTS.pingTimeoutMs;

// A bound well above the suite's ~15 s: a hang fails here, naming the suite, instead of at the runner's
// 10-minute file timeout with nothing reported.
describe('RedisBus on a 3-master Redis Cluster', { timeout: 180_000 }, () => {
  let cluster: RedisCluster;
  let config: BusConfig;
  let publisher: RedisBus;
  let subscriber: RedisBus;
  let rec: Recorder;
  const channels = Array.from({ length: 12 }, (_, i) => `c:${i}`);

  before(async () => {
    cluster = await RedisCluster.start();
    config = { kind: 'redis', keyPrefix: 'mp', mode: 'cluster', nodes: cluster.seeds };
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

  async function shardSubscriptions(node: RedisServer): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const names = channels.map((c) => channelKeys('mp', c).pubsub);
    const lines = (await node.cli('PUBSUB', 'SHARDNUMSUB', ...names)).split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) out.set(lines[i]!, Number(lines[i + 1]));
    return out;
  }

  it('spreads channels over the shards with sharded pub/sub, one subscription per channel on its own shard', async () => {
    const shardsUsed = new Set<number>();
    for (const ch of channels) {
      const pubsub = channelKeys('mp', ch).pubsub;
      const owner = await cluster.nodeForKey(pubsub);
      assert.equal((await shardSubscriptions(owner)).get(pubsub), 1, `${ch} has one subscriber on its shard`);
      shardsUsed.add(owner.port);
    }
    assert.ok(shardsUsed.size >= 2, `channels spread over ${shardsUsed.size} shards`);
    for (const ch of channels) await publisher.publish(ch, '1');
    await waitFor('one publication per channel', () => channels.every((c) => rec.on(c).length === 1));
  });

  it('after a master is killed and restarted empty: its channels get a new epoch, subscriptions come back, the others keep theirs', async () => {
    const victim = await cluster.nodeForKey(channelKeys('mp', channels[0]!).pubsub);
    const onVictim: string[] = [];
    const elsewhere: string[] = [];
    for (const ch of channels) ((await cluster.nodeForKey(channelKeys('mp', ch).pubsub)) === victim ? onVictim : elsewhere).push(ch);
    const epochs = new Map<string, string>();
    for (const ch of channels) epochs.set(ch, (await subscriber.history(ch)).epoch);
    await cluster.restartNode(victim, 'kill');
    await waitFor('the subscriber to be ready again', () => subscriber.isReady(), { timeoutMs: 30_000 });
    await waitFor('resubscribed on the restarted shard', () => rec.resubscribed.some((c) => c.includes(onVictim[0]!)), { timeoutMs: 30_000 });
    for (const ch of channels) {
      const pos = await publishWhenUp(publisher, ch, '2', 30_000);
      if (onVictim.includes(ch)) {
        assert.notEqual(pos.epoch, epochs.get(ch), `${ch} lost its data with its master`);
        assert.equal(pos.offset, 1);
      } else assert.deepEqual(pos, { epoch: epochs.get(ch), offset: 2 });
    }
    await waitFor('a publication on every channel after the restart', () => channels.every((c) => rec.on(c).length === 2), { timeoutMs: 15_000 });
    for (const ch of onVictim) assert.equal((await shardSubscriptions(victim)).get(channelKeys('mp', ch).pubsub), 1);
  });

  it('replaces the connections to a SIGSTOPped master within the detection bound; after SIGCONT its channels resume in the same epoch', async () => {
    const victim = await cluster.nodeForKey(channelKeys('mp', channels[1]!).pubsub);
    const ch = channels[1]!;
    const before = await publishWhenUp(publisher, ch, '"before pause"');
    const resubscribedBefore = rec.resubscribed.length;
    const stoppedAt = Date.now();
    victim.pause();
    try {
      await waitFor('the subscriber to notice the hung master', () => !subscriber.isReady(), { timeoutMs: HUNG_BOUND_MS + 2000 });
      assert.ok(Date.now() - stoppedAt <= HUNG_BOUND_MS + 1000, `noticed after ${Date.now() - stoppedAt} ms`);
      await new Promise((r) => setTimeout(r, 500)); // the fault's length, not a wait: the replacement connections meet a hung master too
    } finally {
      victim.resume();
    }
    await cluster.waitHealthy();
    await waitFor('the subscriber to be ready again', () => subscriber.isReady(), { timeoutMs: 30_000 });
    await waitFor('resubscribed', () => rec.resubscribed.length > resubscribedBefore, { timeoutMs: 30_000 });
    const pos = await publishWhenUp(publisher, ch, '"after pause"', 30_000);
    assert.deepEqual(pos, { epoch: before.epoch, offset: before.offset + 1 }, 'the master kept its data, so the channel keeps its epoch');
    await waitFor('the publication after SIGCONT', () => rec.on(ch).some((p) => p.offset === pos.offset && p.epoch === pos.epoch), { timeoutMs: 15_000 });
  });

  it('stays ready while only the control channel\'s master hangs, and hears control messages again after SIGCONT', async () => {
    const gateway = await redisBus(config, undefined, { clientName: 'ctl' });
    try {
      const heard: string[] = [];
      await gateway.listenControl((m) => heard.push(m));
      const victim = await cluster.nodeForKey(controlPubsub('mp'));
      let ch: string | undefined;
      for (const c of channels) if ((await cluster.nodeForKey(channelKeys('mp', c).pubsub)) !== victim) ch = c;
      assert.ok(ch !== undefined, 'a channel on another master');
      await gateway.subscribe(ch);
      assert.equal(gateway.isReady(), true);
      victim.pause();
      try {
        // Past the bound in which a hung connection is replaced: the control subscriber is down by now.
        await new Promise((r) => setTimeout(r, HUNG_BOUND_MS + 1500));
        assert.equal(gateway.isReady(), true, 'its channels are reachable, so it stays ready');
      } finally {
        victim.resume();
      }
      await cluster.waitHealthy();
      await waitFor('a control message heard after SIGCONT', async () => {
        await publisher.publishControl('after').catch(() => undefined);
        return heard.includes('after');
      }, { timeoutMs: 30_000 });
      await gateway.unsubscribe(ch);
    } finally {
      await gateway.close();
    }
  });
});
