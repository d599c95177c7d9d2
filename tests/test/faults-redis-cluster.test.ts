import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisCluster } from '@megaphone/testing';
import { Cluster } from '../src/cluster/fixture.js';
import { publishThroughFault, summarize } from '../src/cluster/fault-run.js';
import { publishContinuously } from '../src/cluster/publisher.js';
import { sleep } from '../src/cluster/wait.js';
import { PublishLog, checkStream, expectAllCaughtUp } from '../src/cluster/stream-check.js';
import { subscriptionsFor } from '../src/cluster/redis-subscriptions.js';

/** The hash tag the RedisBus gives every key and the pub/sub channel of a Megaphone channel. */
const slotKey = (channel: string) => `{mp:${channel}}`;

describe('a producer and three gateways on a 3-master Redis Cluster (sharded pub/sub)', { timeout: 300_000 }, () => {
  let redis: RedisCluster;
  let cluster: Cluster;

  before(async () => {
    redis = await RedisCluster.start({ nodeTimeoutMs: 2000 });
    cluster = await Cluster.start({ REDIS_CLUSTER_NODES: redis.seeds.map((s) => `${s.host}:${s.port}`).join(',') });
  });

  after(async () => {
    await cluster?.stop();
    await redis?.close();
  });

  test('channels spread over the shards, each with one shard subscription per gateway, every client gets every publication', async () => {
    const channels = Array.from({ length: 8 }, (_, i) => `spread-${i}`);
    const clients = await cluster.connectClients(9, channels);
    const logs = new Map(channels.map((c) => [c, new PublishLog()]));
    for (let seq = 1; seq <= 40; seq++) {
      for (const ch of channels) logs.get(ch)!.add(await cluster.api.publishOne(ch, { seq, ch }), { seq, ch });
    }
    const owners = new Set<number>();
    for (const ch of channels) {
      await expectAllCaughtUp(clients, ch, logs.get(ch)!);
      const node = await redis.nodeForKey(slotKey(ch));
      owners.add(node.port);
      const subs = await subscriptionsFor(node, ch);
      assert.deepEqual(subs.counts, [3], `${ch} on ${node.port}: ${JSON.stringify(subs)}`);
      assert.ok(subs.redisChannels.every((n) => n.startsWith('shard:')), `${ch} uses sharded pub/sub: ${JSON.stringify(subs)}`);
    }
    assert.ok(owners.size >= 2, `8 channels landed on ${owners.size} shard(s)`);
  });

  test('a Cluster master restarted empty: clients of its channels are told of the epoch change, other shards are undisturbed, publishing resumes', async (t) => {
    const name = 'cluster-restart';
    const channel = `fault-${name}`;
    const node = await redis.nodeForKey(slotKey(channel));
    // A channel on another shard, published to throughout: it must not notice anything.
    let other = 'bystander-0';
    for (let i = 1; (await redis.nodeForKey(slotKey(other))).port === node.port; i++) other = `bystander-${i}`;
    const bystanders = await cluster.connectClients(3, [other], { prefix: 'bystander' });
    const otherLog = new PublishLog();
    const side = publishContinuously(cluster.api, other, otherLog, { intervalMs: 30, tag: 'bystander' });
    let outcome;
    try {
      outcome = await publishThroughFault(cluster, name, async () => {
        await redis.restartNode(node, 'kill');
      }, { catchUpMs: 40_000, expectReconnect: [0, 1, 2] });
    } finally {
      await side.stop();
    }
    t.diagnostic(summarize(outcome));
    for (const c of outcome.clients) {
      const events = c.channelEvents(channel);
      const epochs = new Set(events.flatMap((e) => (e.kind === 'subscribed' || e.kind === 'gap' ? [e.epoch] : [])));
      assert.ok(epochs.size >= 2, `${c.name} saw epochs ${[...epochs].join(', ')}`);
      assert.ok(checkStream(events).notices >= 1, `${c.name} was told`);
    }
    const { notices } = await expectAllCaughtUp(bystanders, other, otherLog);
    assert.equal(notices, 0, `${other} lives on another shard: nothing to announce`);
  });

  test('a Cluster master stopped (SIGSTOP) past the detection bound then continued: nothing lost, no epoch change', async (t) => {
    const name = 'cluster-sigstop';
    const node = await redis.nodeForKey(slotKey(`fault-${name}`));
    const outcome = await publishThroughFault(cluster, name, async () => {
      node.pause();
      await sleep(5000);
      node.resume();
      await redis.waitHealthy();
    }, { catchUpMs: 40_000 });
    t.diagnostic(summarize(outcome));
    assert.equal(outcome.notices, 0, 'the data survived: every hole is filled from history');
  });
});
