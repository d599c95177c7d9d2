// A real Prometheus (the Debian package) scrapes a local cluster started like `npm run cluster`
// (redis-server, producer, three gateways, haproxy), with the alert rules loaded: every dashboard
// query and every alert rule parses, evaluates and returns data there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startLocalCluster, type LocalCluster } from '../src/ops/cluster.js';
import { getText, waitFor } from '../src/ops/net.js';
import { repoPath } from '../src/ops/paths.js';
import { alertRules, asPromQL, dashboardExprs, thresholdOperand } from '../src/ops/promql.js';
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
      // Every producer: whichever wins the lease runs the jobs, so its metrics carry the runs.
      { job: 'megaphone-producer', targets: cluster.producers.map((p) => `127.0.0.1:${p.adminPort}`) },
    ], { ruleFiles: [repoPath('monitoring/prometheus/alerts.yml')] });
    // Clients through the balancer, so deliveries happen on several gateways.
    for (let i = 0; i < 6; i++) {
      const c = new OpsClient(cluster.wsUrl, { origin: cluster.url });
      clients.push(c);
      await c.opened;
      c.send({ op: 'subscribe', id: 1, channel: 'uptime' });
      // Late joiners asking for history: deliveries from history for the replay latency panel.
      c.send({ op: 'subscribe', id: 2, channel: 'jobs', history: 10 });
    }
    await Promise.all(clients.map((c) => c.waitFor('uptime', (m) => m.op === 'message' && m.channel === 'uptime')));
    // The producer API panels need a request to count.
    assert.equal((await getText(`${cluster.producer.url}/v1/jobs`)).status, 200);
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
    const result = await waitFor('deliveries in Prometheus', async () => {
      const r = await prom.query('sum by (node) (megaphone_deliveries_total{namespace=""}) > 0');
      return r.length > 0 ? r : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    assert.ok(result.every((s) => /^gateway-\d$/.test(s.metric.node ?? '')));
    assert.ok(result.reduce((n, s) => n + Number(s.value[1]), 0) > 0);
  });

  test('every gateway and the producer are up, and the producer\'s job_name label arrives untouched', async () => {
    const up = await waitFor('all targets up', async () => {
      const r = await prom.query('up == 1');
      return r.length === 3 + cluster.producers.length ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    assert.deepEqual(up.map((s) => s.metric.job).sort(), ['megaphone-gateway', 'megaphone-gateway', 'megaphone-gateway', ...cluster.producers.map(() => 'megaphone-producer')]);
    const runs = await waitFor('finished job runs', async () => {
      const r = await prom.query('megaphone_producer_runs_total > 0');
      return r.length > 0 ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    assert.equal(runs[0]!.metric.job, 'megaphone-producer');
    assert.ok(runs[0]!.metric.job_name, 'the jobs-file job name is in job_name (what the dashboards and alerts group by)');
    assert.equal(runs[0]!.metric.exported_job, undefined, 'no label of ours collides with the scrape job');
    const lines = await waitFor('output lines', async () => {
      const r = await prom.query('sum by (stream) (megaphone_producer_lines_total) > 0');
      return r.length > 0 ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    assert.ok(lines.some((s) => s.metric.stream === 'stdout'));
  });

  test('the delivery latency histograms (live, and from history) have observations for the p50/p99 panels', async () => {
    const r = await waitFor('latency observations', async () => {
      const q = await prom.query('sum(megaphone_delivery_latency_seconds_count) > 0');
      return q.length > 0 ? q : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    assert.ok(Number(r[0]!.value[1]) > 0);
    await waitFor('replay latency observations', async () => ((await prom.query('sum(megaphone_replay_latency_seconds_count) > 0')).length > 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 500 });
    const page = await getText(`${cluster.url}/`);
    assert.equal(page.status, 200, 'the console is served through the balancer');
  });

  test('every Grafana panel and variable query parses and returns data while the cluster carries traffic', async () => {
    const exprs = dashboardExprs();
    assert.ok(exprs.length >= 40, `found ${exprs.length} dashboard queries`);
    const empty: string[] = [];
    const broken: string[] = [];
    for (const { where, expr } of exprs) {
      const promql = asPromQL(expr);
      // A query Prometheus cannot parse or evaluate is refused at once (HTTP 400/422 with the error).
      const error = await prom.query(promql).then(() => undefined, (err: Error) => err.message);
      if (error !== undefined) {
        broken.push(`${where}: ${error}`);
        continue;
      }
      const data = await waitFor(`data for ${where}`, async () => ((await prom.query(promql)).length > 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 500 }).catch(() => false);
      if (!data) empty.push(`${where}: ${promql}`);
    }
    assert.deepEqual(broken, [], 'queries Prometheus refused');
    assert.deepEqual(empty, [], 'queries that returned no series');
  });

  test('every alert rule evaluates without error, and what it compares to its threshold returns data', async () => {
    const rules = alertRules();
    const states = await waitFor('every rule evaluated', async () => {
      const r = await prom.rules();
      return r.length === rules.length && r.every((x) => !x.lastEvaluation.startsWith('0001')) ? r : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    assert.deepEqual(states.filter((s) => s.health !== 'ok').map((s) => `${s.name}: ${s.health} ${s.lastError ?? ''}`), []);
    const empty: string[] = [];
    for (const rule of rules) {
      const operand = thresholdOperand(rule.expr);
      const data = await waitFor(`data for ${rule.alert}`, async () => ((await prom.query(operand)).length > 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 500 }).catch(() => false);
      if (!data) empty.push(`${rule.alert}: ${operand}`);
    }
    assert.deepEqual(empty, [], 'alert operands that returned no series');
  });
});
