// Two producer processes on one Redis (SPEC §12): kill -9 of the leader. The standby takes over
// within the lease plus a second, announces the dead leader's run as lost before it starts anything,
// the restart-always job runs again, the uptime counter continues on its channel under the new
// producer's name, the surviving API never stops answering, and the dead leader's run left no process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisBus } from '@megaphone/bus';
import { createLogger } from '@megaphone/runtime';
import { RedisServer, startTopology, waitFor, type ServiceProcess, type Topology } from '@megaphone/testing';
import { ProducerApi } from '../src/cluster/producer-api.js';
import { API_TOKEN, BINS } from '../src/cluster/services.js';

const LEASE_MS = 2000;
let redis: RedisServer;
let dir: string;
const topologies: Topology[] = [];

before(async () => {
  redis = await RedisServer.start();
  dir = mkdtempSync(join(tmpdir(), 'mp-failover-'));
});
after(async () => {
  await Promise.all(topologies.map((t) => t.stop()));
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

test('kill -9 of the leader: takeover within lease + 1 s, lost announced first, jobs and uptime go on, no orphan', { timeout: 120_000 }, async (t) => {
  const pids = join(dir, 'pids');
  const jobsFile = join(dir, 'jobs.yaml');
  writeFileSync(
    jobsFile,
    `jobs:
  - name: ticker
    command: ["sh", "-c", "sleep 1000 & echo \\"$$ $!\\" >> \\"$PIDS\\"; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
    restart: always
    env: { PIDS: "${pids}" }
`,
  );
  // One producer at a time, so that the first one leads.
  const producer = async (name: string): Promise<ServiceProcess> => {
    const topology = await startTopology({
      bins: BINS,
      redis: { REDIS_URL: redis.url },
      producers: 1,
      gateways: 0,
      producerName: () => name,
      env: { LOG_LEVEL: 'warn' },
      producerEnv: { PRODUCER_JOBS_FILE: jobsFile, PRODUCER_API_TOKEN: API_TOKEN, PRODUCER_LEASE_MS: String(LEASE_MS), PRODUCER_UPTIME_INTERVAL_MS: '200' },
    });
    topologies.push(topology);
    return topology.producers[0]!;
  };
  const first = await producer('producer-1');
  const second = await producer('producer-2');
  assert.equal(await first.metric('megaphone_producer_leader'), 1);
  assert.equal(await second.metric('megaphone_producer_leader'), 0);
  const [leaderPid, sleepPid] = (await waitFor('the ticker to start', () => readFileSync(pids, 'utf8').trim() || undefined)).split(' ').map(Number) as [number, number];

  const bus = await RedisBus.create({ kind: 'redis', keyPrefix: 'mp', mode: 'standalone', host: '127.0.0.1', port: redis.port }, { history: () => ({ size: 1000, ttlMs: 600_000 }), logger: createLogger({ level: 'silent', service: 't', node: 't' }) });
  t.after(() => bus.close());
  const data = async (channel: string) => (await bus.history(channel)).publications.map((p) => ({ offset: p.offset, epoch: p.epoch, data: JSON.parse(p.frame.toString()).data as Record<string, unknown> }));
  await waitFor('uptime from the first producer', async () => (await data('uptime')).length > 2);
  const oldRun = (await data('jobs')).find((e) => e.data.event === 'started')!.data.run as string;

  // Publish through the survivor all along: its API must never stop answering.
  const api = new ProducerApi(second.httpUrl);
  const statuses: number[] = [];
  let publishing = true;
  const publisher = (async () => {
    for (let i = 0; publishing; i++) {
      statuses.push((await api.request('POST', '/v1/publish', { channel: 'news', data: i })).status);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  const killedAt = Date.now();
  await first.kill9();
  await waitFor('the run\'s process group to die with its producer', () => !alive(leaderPid) && !alive(sleepPid), { timeoutMs: 3000, intervalMs: 20 });
  await waitFor('the standby to lead', async () => (await second.metric('megaphone_producer_leader')) === 1, { timeoutMs: LEASE_MS + 3000, intervalMs: 50 });
  const takeover = Date.now() - killedAt;
  t.diagnostic(`takeover ${takeover} ms after kill -9 (lease ${LEASE_MS} ms)`);
  assert.ok(takeover <= LEASE_MS + 1000, `takeover took ${takeover} ms`);

  const jobs = await waitFor('a new ticker run', async () => {
    const events = await data('jobs');
    return events.some((e) => e.data.event === 'started' && e.data.run !== oldRun) ? events : undefined;
  });
  const lost = jobs.find((e) => e.data.run === oldRun && e.data.event === 'exited');
  assert.equal(lost?.data.outcome, 'lost', 'the dead leader\'s run is announced as lost');
  assert.equal(lost?.data.producer, 'producer-1');
  const restarted = jobs.find((e) => e.data.event === 'started' && e.data.run !== oldRun)!;
  assert.ok(lost!.offset < restarted.offset, 'lost is announced before the new leader starts anything');
  const cmd = await data('cmd:ticker');
  assert.ok(cmd.some((e) => e.data.run === oldRun && e.data.outcome === 'lost'), 'lost on cmd:ticker too');
  await waitFor('output of the new run', async () => (await data('cmd:ticker')).some((e) => e.data.run === restarted.data.run && Array.isArray(e.data.lines)));

  const uptime = await waitFor('uptime from the new leader', async () => {
    const u = await data('uptime');
    return u.some((e) => e.data.producer === 'producer-2') ? u : undefined;
  });
  assert.equal(new Set(uptime.map((e) => e.epoch)).size, 1, 'one epoch');
  uptime.forEach((e, i) => i > 0 && assert.equal(e.offset, uptime[i - 1]!.offset + 1, 'consecutive offsets'));
  assert.equal(new Set(uptime.map((e) => e.data.startedAt)).size, 1, 'the count continues from the same start');
  const names = uptime.map((e) => e.data.producer);
  assert.equal(names.lastIndexOf('producer-1') < names.indexOf('producer-2'), true, 'the new producer is named after the old one');
  for (let i = 1; i < uptime.length; i++) assert.ok((uptime[i]!.data.uptimeSeconds as number) >= (uptime[i - 1]!.data.uptimeSeconds as number));

  publishing = false;
  await publisher;
  assert.ok(statuses.length > 10);
  assert.deepEqual([...new Set(statuses)], [200], 'the survivor\'s publish API answered 200 throughout');
});
