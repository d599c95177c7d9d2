// The producers' lease on Sentinel (through a failover) and on Cluster.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisCluster, RedisSentinelGroup } from '@megaphone/testing';
import { startProducer, type ProducerHandle } from '../src/producer.js';
import { http, job, testConfig, waitFor } from './helpers.js';

const LEASE_MS = 2000;
const JOBS = [job('slow', ['sleep', '30'])];

async function pair(env: Record<string, string>): Promise<[ProducerHandle, ProducerHandle]> {
  const a = await startProducer({ config: testConfig(JOBS, { ...env, NODE_NAME: 'pa', PRODUCER_LEASE_MS: String(LEASE_MS) }) });
  const b = await startProducer({ config: testConfig(JOBS, { ...env, NODE_NAME: 'pb', PRODUCER_LEASE_MS: String(LEASE_MS) }) });
  return [a, b];
}

describe('producers on Redis Sentinel', { timeout: 180_000 }, () => {
  let group: RedisSentinelGroup;
  before(async () => void (group = await RedisSentinelGroup.start({ name: 'megaphone', downAfterMs: 1000 })));
  after(async () => group?.close());

  test('a failover after the master is killed never leaves two leaders for longer than the lease, and one leads after it', async () => {
    const [a, b] = await pair({ REDIS_SENTINELS: group.sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(','), REDIS_SENTINEL_NAME: group.name });
    let both = 0;
    let bothSince: number | undefined;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = Date.now();
        if (a.isLeader() && b.isLeader()) {
          bothSince ??= now;
          both = Math.max(both, now - bothSince);
        } else bothSince = undefined;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      await waitFor('a leader', () => a.isLeader() !== b.isLeader());
      await group.failover('kill', { restartOld: true, timeoutMs: 60_000 });
      await waitFor('exactly one leader after the failover', () => a.isLeader() !== b.isLeader(), { timeoutMs: 30_000 });
      const standby = a.isLeader() ? b : a;
      await waitFor('the standby forwarding to the leader', async () => (await http(standby.port, 'POST', '/v1/jobs/slow/runs')).status === 202, { timeoutMs: 20_000 });
      assert.equal((await http(standby.port, 'POST', '/v1/jobs/slow/runs')).status, 409);
    } finally {
      sampling = false;
      await sampler;
      await Promise.all([a.close(), b.close()]);
    }
    assert.ok(both <= LEASE_MS, `two leaders at once for ${both} ms (lease ${LEASE_MS} ms)`);
  });
});

describe('producers on a 3-master Redis Cluster', { timeout: 120_000 }, () => {
  let cluster: RedisCluster;
  before(async () => void (cluster = await RedisCluster.start()));
  after(async () => cluster?.close());

  test('one leads; a standby forwards to it; the leader hands over on a graceful stop', async () => {
    const [a, b] = await pair({ REDIS_CLUSTER_NODES: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',') });
    try {
      assert.equal(a.isLeader(), true);
      assert.equal(b.isLeader(), false);
      const r = await http(b.port, 'POST', '/v1/jobs/slow/runs');
      assert.equal(r.status, 202);
      assert.equal(a.jobs.getRun(r.body.run)?.running, true);
      await a.close();
      await waitFor('the standby to lead', () => b.isLeader(), { timeoutMs: LEASE_MS });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
