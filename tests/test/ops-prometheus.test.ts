// A real Prometheus (the Debian package) scrapes a local cluster started like `npm run cluster`
// (redis-server, producer, three gateways, haproxy), and the dashboards' main queries return data.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startLocalCluster, type LocalCluster } from '../src/ops/cluster.js';
import { getText, poll } from '../src/ops/net.js';
import { startPrometheus, type RunningPrometheus } from '../src/ops/prometheus.js';
import { OpsClient } from '../src/ops/ws-client.js';

describe('Prometheus scraping a local cluster', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  let prom: RunningPrometheus;
  const clients: OpsClient[] = [];

  before(async () => {
    cluster = await startLocalCluster({ port: 0 });
    prom = await startPrometheus([
      { job: 'megaphone-gateway', targets: cluster.gateways.map((g) => `127.0.0.1:${g.adminPort}`) },
      { job: 'megaphone-producer', targets: [`127.0.0.1:${cluster.producer.adminPort}`] },
    ]);
    // Clients through the balancer, so deliveries happen on several gateways.
    for (let i = 0; i < 6; i++) {
      const c = new OpsClient(cluster.wsUrl, { origin: cluster.url });
      clients.push(c);
      await c.opened;
      c.send({ op: 'subscribe', id: 1, channel: 'uptime' });
    }
    await Promise.all(clients.map((c) => c.waitFor('uptime', (m) => m.op === 'message' && m.channel === 'uptime')));
  });

  after(async () => {
    for (const c of clients) c.close();
    await prom?.stop();
    await cluster?.stop();
  });

  test('the cluster script starts haproxy in front of three gateways', () => {
    assert.equal(cluster.balancer.kind, 'haproxy');
    assert.equal(cluster.gateways.length, 3);
  });

  test('a query for megaphone_deliveries_total returns data from the gateways', async () => {
    const result = await poll('deliveries in Prometheus', async () => {
      const r = await prom.query('sum by (node) (megaphone_deliveries_total{namespace=""}) > 0');
      return r.length > 0 ? r : undefined;
    }, 60_000, 500);
    assert.ok(result.every((s) => /^gateway-\d$/.test(s.metric.node ?? '')));
    assert.ok(result.reduce((n, s) => n + Number(s.value[1]), 0) > 0);
  });

  test('every gateway and the producer are up, and the producer\'s job_name label arrives untouched', async () => {
    const up = await poll('all targets up', async () => {
      const r = await prom.query('up == 1');
      return r.length === 4 ? r : undefined;
    }, 30_000, 500);
    assert.deepEqual(up.map((s) => s.metric.job).sort(), ['megaphone-gateway', 'megaphone-gateway', 'megaphone-gateway', 'megaphone-producer']);
    const runs = await poll('finished job runs', async () => {
      const r = await prom.query('megaphone_producer_runs_total > 0');
      return r.length > 0 ? r : undefined;
    }, 30_000, 500);
    assert.equal(runs[0]!.metric.job, 'megaphone-producer');
    assert.ok(runs[0]!.metric.job_name, 'the jobs-file job name is in job_name (what the dashboards and alerts group by)');
    assert.equal(runs[0]!.metric.exported_job, undefined, 'no label of ours collides with the scrape job');
    const lines = await poll('output lines', async () => {
      const r = await prom.query('sum by (stream) (megaphone_producer_lines_total) > 0');
      return r.length > 0 ? r : undefined;
    }, 30_000, 500);
    assert.ok(lines.some((s) => s.metric.stream === 'stdout'));
  });

  test('the delivery latency histogram has observations for the p50/p99 panels', async () => {
    const r = await poll('latency observations', async () => {
      const q = await prom.query('sum(megaphone_delivery_latency_seconds_count) > 0');
      return q.length > 0 ? q : undefined;
    }, 30_000, 500);
    assert.ok(Number(r[0]!.value[1]) > 0);
    const page = await getText(`${cluster.url}/`);
    assert.equal(page.status, 200, 'the console is served through the balancer');
  });
});
