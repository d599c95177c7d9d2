// More than one producer on one Redis (SPEC §12), in-process: one leader, standbys that answer the
// job and run API as the leader would, fencing of a deposed leader, handover on a graceful stop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisServer } from '@megaphone/testing';
import { RedisBus } from '@megaphone/bus';
import type { BusConfig } from '@megaphone/bus';
import { PRODUCER_LEASE } from '../src/leader/leader-role.js';
import { startProducer, type ProducerHandle } from '../src/producer.js';
import { http, job, published, silentLogger, testConfig, waitFor } from './helpers.js';

const LEASE_MS = 2000;
const JOBS = [job('slow', ['sleep', '30']), job('ticker', ['sh', '-c', 'while :; do echo tick; sleep 0.1; done'], { restart: 'always', startOnBoot: true })];

describe('two producers on standalone Redis', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let prefix = 0;
  before(async () => void (redis = await RedisServer.start()));
  after(async () => redis?.close());

  async function pair(tuning = {}, leaseMs = LEASE_MS): Promise<{ a: ProducerHandle; b: ProducerHandle; env: Record<string, string> }> {
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `ha${++prefix}`, PRODUCER_LEASE_MS: String(leaseMs) };
    const a = await startProducer({ config: testConfig(JOBS, { ...env, NODE_NAME: 'pa' }), tuning });
    const b = await startProducer({ config: testConfig(JOBS, { ...env, NODE_NAME: 'pb' }), tuning });
    return { a, b, env };
  }

  async function control(env: Record<string, string>): Promise<RedisBus> {
    const config: BusConfig = { kind: 'redis', keyPrefix: env.REDIS_KEY_PREFIX!, mode: 'standalone', host: '127.0.0.1', port: redis.port };
    return RedisBus.create(config, { history: () => ({ size: 1000, ttlMs: 600_000 }), logger: silentLogger });
  }

  test('exactly one leads; a standby answers job and run requests as the leader would (202, 409, 404)', async () => {
    // No failover wanted here: a lease long enough that a starved event loop (a busy CI machine)
    // cannot make the leader step down in the middle (seen with 2 s under three parallel runs).
    const { a, b } = await pair({}, 10_000);
    try {
      assert.equal(a.isLeader(), true, 'the first producer took the lease');
      assert.equal(b.isLeader(), false);
      const started = await http(b.port, 'POST', '/v1/jobs/slow/runs');
      assert.equal(started.status, 202, JSON.stringify(started.body));
      assert.equal(started.headers.get('location'), `/v1/runs/${started.body.run}`);
      assert.equal(a.jobs.getRun(started.body.run)?.running, true, 'the leader runs it');
      assert.equal(b.jobs.activeRuns, 0, 'the standby runs nothing');
      const again = await http(b.port, 'POST', '/v1/jobs/slow/runs');
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'conflict');
      assert.equal((await http(b.port, 'POST', '/v1/jobs/nope/runs')).status, 404);
      const run = await http(b.port, 'GET', `/v1/runs/${started.body.run}`);
      assert.equal(run.status, 200);
      assert.equal(run.body.state, 'running');
      const listed = await http(b.port, 'GET', '/v1/jobs');
      assert.equal(listed.body.jobs.find((j: { name: string }) => j.name === 'slow').state, 'running');
      assert.equal((await http(b.port, 'DELETE', `/v1/runs/${started.body.run}`)).status, 202);
      await waitFor('the run to end', () => a.jobs.getRun(started.body.run)?.running === false);
      assert.equal((await http(b.port, 'DELETE', `/v1/runs/${started.body.run}`)).status, 409);
      assert.equal((await http(b.port, 'GET', '/v1/runs/unknown')).status, 404);
      const pub = await http(b.port, 'POST', '/v1/publish', { body: { channel: 'news', data: 1 } });
      assert.equal(pub.status, 200, 'a standby publishes directly');
      const metrics = (await http(a.adminPort, 'GET', '/metrics')).body as string;
      assert.match(metrics, /megaphone_producer_leader\{[^}]*\} 1/);
      assert.match(metrics, /megaphone_producer_leader_changes_total\{[^}]*\} 1/);
      assert.match((await http(b.adminPort, 'GET', '/metrics')).body as string, /megaphone_producer_leader\{[^}]*\} 0/);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a standby that no leader answers replies 503 with retry-after after a bounded wait', async () => {
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `ha${++prefix}`, PRODUCER_LEASE_MS: String(LEASE_MS) };
    const other = await control(env);
    // Someone (a hung leader) holds the lease and answers nothing.
    assert.ok((await other.acquireLease(PRODUCER_LEASE, 'hung', 60_000, 60_000)) !== undefined);
    const p = await startProducer({ config: testConfig(JOBS, env), tuning: { forwardTimeoutMs: 500 } });
    try {
      assert.equal(p.isLeader(), false);
      const t0 = Date.now();
      const r = await http(p.port, 'POST', '/v1/jobs/slow/runs');
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'unavailable');
      assert.equal(r.headers.get('retry-after'), '1');
      assert.ok(Date.now() - t0 < 3000, `bounded wait (${Date.now() - t0} ms)`);
      assert.equal(p.jobs.activeRuns, 0);
    } finally {
      await p.close();
      await other.close();
    }
  });

  test('a deposed leader: its late publications are refused (fencing) and its runs are killed at once', async () => {
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `ha${++prefix}`, PRODUCER_LEASE_MS: '60000' };
    const a = await startProducer({ config: testConfig(JOBS, { ...env, NODE_NAME: 'old' }) });
    const other = await control(env);
    try {
      assert.equal(a.isLeader(), true);
      const run = await waitFor('the ticker to run', () => a.jobs.list().find((j) => j.name === 'ticker')?.run ?? undefined);
      const pid = a.jobs.getRun(run)!.pid!;
      await waitFor('uptime published', async () => (await published(other, 'uptime')).length > 0);
      // A new leader (as after a partition the old one has not noticed yet): the lease is taken over
      // behind the old leader's back and the new leader writes on the channels first.
      await redis.cli('DEL', `{${env.REDIS_KEY_PREFIX}#lease:${PRODUCER_LEASE}}:l`);
      const fence = (await other.acquireLease(PRODUCER_LEASE, 'new', 60_000, 60_000))!;
      const newer = await other.publish('uptime', '{"producer":"new"}', { fence });
      await other.publish('cmd:ticker', '{"event":"fence"}', { fence });
      await waitFor('the old leader to stand down', () => !a.isLeader(), { timeoutMs: 5000 });
      await waitFor('its run to end', () => a.jobs.activeRuns === 0, { timeoutMs: 2000 });
      await waitFor('its process group to be gone', () => {
        try {
          process.kill(-pid, 0);
          return false;
        } catch {
          return true;
        }
      });
      const uptime = (await other.history('uptime')).publications.filter((x) => x.offset > newer.offset);
      assert.deepEqual(uptime.map((x) => x.frame.toString()), [], 'nothing of the old leader after the new one wrote');
      const ticks = (await published(other, 'cmd:ticker')).slice(-1);
      assert.deepEqual(ticks, [{ event: 'fence' }], 'no late output or exit of the deposed leader');
    } finally {
      await a.close();
      await other.close();
    }
  });

  test('Redis restarting empty: the leader renews its lapsed lease and the standby never leads meanwhile', async () => {
    const { a, b } = await pair();
    let both = false;
    let standbyLed = false;
    const watch = setInterval(() => {
      if (b.isLeader()) standbyLed = true;
      if (a.isLeader() && b.isLeader()) both = true;
    }, 10);
    try {
      await waitFor('the ticker to run', () => a.jobs.activeRuns === 1);
      const run = a.jobs.list().find((j) => j.name === 'ticker')!.run;
      await redis.restart();
      await waitFor('both buses back', () => a.bus.isReady() && b.bus.isReady(), { timeoutMs: 15_000 });
      // Watch for two leases' time: long enough for a standby that grabbed the empty store to lead.
      const until = Date.now() + 2 * LEASE_MS;
      await waitFor('the watch window', () => Date.now() > until, { timeoutMs: 3 * LEASE_MS });
      assert.equal(standbyLed, false, 'the standby took the lease from a live leader');
      assert.equal(both, false);
      assert.equal(a.isLeader(), true);
      assert.equal(a.jobs.list().find((j) => j.name === 'ticker')!.run, run, 'the run went on');
    } finally {
      clearInterval(watch);
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a graceful stop of the leader hands the lease over at once, and the new leader announces nothing lost', async () => {
    const { a, b } = await pair();
    const bus = await control({ REDIS_KEY_PREFIX: `ha${prefix}` });
    try {
      assert.equal(a.isLeader(), true);
      await waitFor('the ticker to run', () => a.jobs.activeRuns === 1);
      const t0 = Date.now();
      await a.close();
      const closed = Date.now();
      await waitFor('the standby to lead', () => b.isLeader(), { timeoutMs: LEASE_MS * 2 });
      const handover = Date.now() - closed;
      assert.ok(handover < LEASE_MS / 2, `taken over ${handover} ms after the close (${closed - t0} ms to stop), not after the lease expired`);
      await waitFor('the ticker to run on the new leader', () => b.jobs.activeRuns === 1);
      const events = await published(bus, 'jobs');
      assert.equal(events.filter((e) => e.outcome === 'lost').length, 0);
      assert.ok(events.some((e) => e.outcome === 'killed'), 'the old leader announced its own run stopped');
    } finally {
      await Promise.all([a.close(), b.close()]);
      await bus.close();
    }
  });
});
