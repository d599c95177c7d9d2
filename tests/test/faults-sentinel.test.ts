import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisSentinelGroup } from '@megaphone/testing';
import { Cluster } from '../src/cluster/fixture.js';
import { publishThroughFault, summarize } from '../src/cluster/fault-run.js';
import { sleep, waitFor } from '../src/cluster/wait.js';

describe('a producer and three gateways on Redis Sentinel (1 master, 1 replica, 3 sentinels)', { timeout: 300_000 }, () => {
  let group: RedisSentinelGroup;
  let cluster: Cluster;

  before(async () => {
    group = await RedisSentinelGroup.start({ name: 'megaphone', downAfterMs: 1000 });
    cluster = await Cluster.start({
      REDIS_SENTINELS: group.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(','),
      REDIS_SENTINEL_NAME: group.name,
    });
  });

  after(async () => {
    await cluster?.stop();
    await group?.close();
  });

  // The commanded failover goes first: Sentinel picks a replica only when its view of it is fresh and
  // in sync, which a replica just rebuilt after the kill failover may not be yet on a loaded machine.
  test('a commanded Sentinel failover (SENTINEL FAILOVER): publishing and delivery continue', async (t) => {
    const outcome = await publishThroughFault(cluster, 'sentinel-command', async () => {
      await group.failover('command', { timeoutMs: 30_000 });
    }, { expectReconnect: [0, 1, 2] });
    t.diagnostic(summarize(outcome));
  });

  test('a Sentinel failover after the master is killed: services follow the new master and no client has an unannounced hole', async (t) => {
    let moved: { from: number; to: number } | undefined;
    const outcome = await publishThroughFault(cluster, 'sentinel-kill', async () => {
      const { from, to } = await group.failover('kill', { restartOld: true, timeoutMs: 30_000 });
      moved = { from: from.port, to: to.port };
    }, { expectReconnect: [0, 1, 2] });
    t.diagnostic(summarize(outcome));
    assert.ok(moved && moved.from !== moved.to, `the master moved: ${JSON.stringify(moved)}`);
    assert.equal(await group.masterPort(), moved!.to);
  });

  // ioredis ends a Sentinel connection for good when +switch-master lands while it is still asking a
  // (hung) Sentinel for the master; the bus must revive it. Before that fix the services never came back.
  test('a Sentinel failover while the first listed Sentinel hangs (SIGSTOP): services still follow the new master', async (t) => {
    const hung = group.sentinels[0]!;
    const live = group.sentinels.slice(1);
    const old = await group.currentMaster();
    const outcome = await publishThroughFault(cluster, 'sentinel-hung', async () => {
      hung.pause();
      try {
        await old.kill();
        await waitFor('the other Sentinels to promote the replica', async () => {
          const ports = await Promise.all(live.map(async (s) => Number((await s.cli('SENTINEL', 'get-master-addr-by-name', group.name)).split('\n')[1])));
          return ports.every((p) => p !== old.port && p === ports[0]);
        }, { timeoutMs: 30_000 });
        await sleep(1000);
      } finally {
        hung.resume();
      }
      await old.restart();
    }, { expectReconnect: [0, 1, 2] });
    t.diagnostic(summarize(outcome));
  });
});
