// Dashboards and alert rules query metrics that exist: every name they use is in /metrics of a
// real gateway and producer (started in-process on port 0 over one in-process bus and exercised a
// little); the rule and scrape files pass promtool; the Kubernetes copies cannot drift from
// monitoring/; every alert has a runbook and every metric is documented.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createBus } from '@megaphone/bus';
import type { Bus } from '@megaphone/bus';
import { readGatewayConfig, startGateway, type GatewayHandle } from '@megaphone/gateway';
import { readProducerConfig, startProducer, type ProducerHandle } from '@megaphone/producer';
import { createLogger, historyPolicyFor, readCommonConfig, EnvReader } from '@megaphone/runtime';
import { exposedNames, labelNamesOf } from '../src/ops/exposition.js';
import { getText, waitFor } from '../src/ops/net.js';
import { repoPath } from '../src/ops/paths.js';
import { alertRules, dashboardExprs, metricNamesIn } from '../src/ops/promql.js';
import { OpsClient } from '../src/ops/ws-client.js';

const execFileP = promisify(execFile);
/** Series Prometheus makes itself, not the services. */
const FROM_PROMETHEUS = new Set(['up']);

describe('metrics used by dashboards and alerts exist in the services', () => {
  let bus: Bus;
  let gateway: GatewayHandle;
  let producer: ProducerHandle;
  let dir: string;
  let gatewayMetrics = '';
  let producerMetrics = '';
  const clients: OpsClient[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ops-monitoring-'));
    const jobs = join(dir, 'jobs.yaml');
    writeFileSync(jobs, 'jobs:\n  - name: hello\n    command: ["sh", "-c", "echo hello; echo oops >&2"]\n  - name: broken\n    command: ["sh", "-c", "exit 3"]\n');
    const logger = createLogger({ level: 'silent', service: 'ops-test', node: 'ops' });
    const common = readCommonConfig(new EnvReader({}));
    bus = await createBus({ kind: 'memory' }, { history: historyPolicyFor(common.namespaces), logger });
    gateway = await startGateway({ config: readGatewayConfig({ NODE_NAME: 'gw-ops', GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: '0', GATEWAY_ADMIN_HOST: '127.0.0.1', GATEWAY_ADMIN_PORT: '0', LOG_LEVEL: 'silent' }), bus, logger });
    producer = await startProducer({
      config: readProducerConfig({ NODE_NAME: 'producer-ops', PRODUCER_HOST: '127.0.0.1', PRODUCER_PORT: '0', PRODUCER_ADMIN_HOST: '127.0.0.1', PRODUCER_ADMIN_PORT: '0', PRODUCER_JOBS_FILE: jobs, PRODUCER_UPTIME_INTERVAL_MS: '100', LOG_LEVEL: 'silent' }),
      bus,
      logger,
    });
    // Exercise: a WebSocket and an SSE client, a subscription with history and a failed resume,
    // a bad command, a publication over the producer API, job runs.
    const ws = new OpsClient(`ws://127.0.0.1:${gateway.port}/ws`, { origin: `http://127.0.0.1:${gateway.port}` });
    clients.push(ws);
    await ws.opened;
    ws.send({ op: 'subscribe', id: 1, channel: 'uptime' });
    ws.send({ op: 'subscribe', id: 2, channel: 'cmd:hello', since: { epoch: 'not-an-epoch', offset: 5 } });
    ws.send({ op: 'subscribe', id: 3, channel: 'bad channel!' });
    await ws.waitFor('uptime', (m) => m.op === 'message' && m.channel === 'uptime');
    const sse = new AbortController();
    const sseRes = await fetch(`http://127.0.0.1:${gateway.port}/sse?channel=uptime`, { signal: sse.signal });
    const reader = sseRes.body!.getReader();
    await reader.read();
    const pub = await fetch(`http://127.0.0.1:${producer.port}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'events:test', data: { x: 1 } }) });
    assert.equal(pub.status, 200, await pub.text());
    await waitFor('job runs to finish', async () => {
      const m = (await getText(`http://127.0.0.1:${producer.adminPort}/metrics`)).text;
      return m.includes('outcome="failure"') && m.includes('outcome="success"');
    }, { timeoutMs: 15_000 });
    await ws.waitFor('more uptime', () => ws.messages.filter((m) => m.op === 'message').length >= 3);
    sse.abort();
    ws.close();
    await waitFor('the closes to be counted', async () => (await getText(`http://127.0.0.1:${gateway.adminPort}/metrics`)).text.includes('megaphone_connections_closed_total{'), { timeoutMs: 5000 });
    gatewayMetrics = (await getText(`http://127.0.0.1:${gateway.adminPort}/metrics`)).text;
    producerMetrics = (await getText(`http://127.0.0.1:${producer.adminPort}/metrics`)).text;
  });

  after(async () => {
    for (const c of clients) c.close();
    await producer?.close();
    await gateway?.close();
    await bus?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every metric in the Grafana dashboards is exposed by a gateway or the producer', () => {
    const exposed = new Set([...exposedNames(gatewayMetrics), ...exposedNames(producerMetrics)]);
    const exprs = dashboardExprs();
    assert.ok(exprs.length >= 30, `found ${exprs.length} dashboard queries`);
    const missing = exprs.flatMap(({ where, expr }) => metricNamesIn(expr).filter((n) => !exposed.has(n) && !FROM_PROMETHEUS.has(n)).map((n) => `${where}: ${n}`));
    assert.deepEqual(missing, []);
  });

  test('every metric in the alert rules is exposed by a gateway or the producer', () => {
    const exposed = new Set([...exposedNames(gatewayMetrics), ...exposedNames(producerMetrics)]);
    const rules = alertRules();
    assert.ok(rules.length >= 10);
    const missing = rules.flatMap((r) => metricNamesIn(r.expr).filter((n) => !exposed.has(n) && !FROM_PROMETHEUS.has(n)).map((n) => `${r.alert}: ${n}`));
    assert.deepEqual(missing, []);
  });

  test('the labels the dashboards group by are on the series', () => {
    // node comes from createRegistry's default labels; transport, namespace, code, outcome, stream from the services.
    assert.ok(labelNamesOf(gatewayMetrics, 'megaphone_connections').has('node'));
    assert.ok(labelNamesOf(gatewayMetrics, 'megaphone_connections').has('transport'));
    assert.ok(labelNamesOf(gatewayMetrics, 'megaphone_deliveries_total').has('namespace'));
    assert.ok(labelNamesOf(gatewayMetrics, 'megaphone_recoveries_total').has('result'));
    assert.ok(labelNamesOf(gatewayMetrics, 'megaphone_client_errors_total').has('code'));
    assert.ok(labelNamesOf(producerMetrics, 'megaphone_producer_runs_total').has('outcome'));
    assert.ok(labelNamesOf(producerMetrics, 'megaphone_producer_runs_total').has('job_name'));
    assert.ok(!labelNamesOf(producerMetrics, 'megaphone_producer_runs_total').has('job'), 'job collides with the scrape job label');
    assert.ok(labelNamesOf(producerMetrics, 'megaphone_producer_lines_total').has('stream'));
    for (const text of [gatewayMetrics, producerMetrics]) {
      assert.ok(labelNamesOf(text, 'megaphone_nodejs_eventloop_lag_p99_seconds').has('service'));
    }
  });

  test('docs/metrics.md documents every megaphone_ metric the services expose', () => {
    const doc = readFileSync(repoPath('docs/metrics.md'), 'utf8');
    const families = new Set<string>();
    for (const text of [gatewayMetrics, producerMetrics]) {
      for (const m of text.matchAll(/^# TYPE (megaphone_\S+) /gm)) families.add(m[1]!);
    }
    // Node runtime metrics are documented as a group (prefix megaphone_nodejs_ / megaphone_process_).
    const own = [...families].filter((f) => !/^megaphone_(nodejs|process)_/.test(f));
    const undocumented = own.filter((f) => !doc.includes(`\`${f}\``));
    assert.deepEqual(undocumented, []);
  });
});

describe('alert rules and scrape configuration', () => {
  test('promtool check rules passes on monitoring/prometheus/alerts.yml', async () => {
    const { stdout } = await execFileP('promtool', ['check', 'rules', repoPath('monitoring/prometheus/alerts.yml')]);
    assert.match(stdout, /SUCCESS: \d+ rules found/);
  });

  test('promtool check config passes on the compose Prometheus configuration with its rules', async () => {
    // The compose file mounts the rules at /etc/prometheus/rules/; point the same config at the repo file.
    const dir = mkdtempSync(join(tmpdir(), 'ops-promtool-'));
    try {
      const cfg = readFileSync(repoPath('deploy/prometheus/prometheus.yml'), 'utf8').replace('/etc/prometheus/rules/*.yml', repoPath('monitoring/prometheus/alerts.yml'));
      assert.notEqual(cfg, readFileSync(repoPath('deploy/prometheus/prometheus.yml'), 'utf8'), 'the rules path was found');
      writeFileSync(join(dir, 'prometheus.yml'), cfg);
      const { stdout } = await execFileP('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
      assert.match(stdout, /SUCCESS/);
      assert.match(stdout, /SUCCESS: \d+ rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every alert has a severity, a summary and a runbook section in docs/runbooks.md', () => {
    const runbooks = readFileSync(repoPath('docs/runbooks.md'), 'utf8');
    const headings = new Set([...runbooks.matchAll(/^##+ (\S+)/gm)].map((m) => m[1]!.toLowerCase()));
    for (const r of alertRules()) {
      assert.ok(['critical', 'warning', 'info'].includes(r.labels?.severity ?? ''), `${r.alert} severity`);
      assert.ok(r.annotations?.summary, `${r.alert} summary`);
      assert.equal(r.annotations?.runbook_url, `docs/runbooks.md#${r.alert.toLowerCase()}`, `${r.alert} runbook_url`);
      assert.ok(headings.has(r.alert.toLowerCase()), `docs/runbooks.md has a section ## ${r.alert}`);
    }
  });

  test('the Kubernetes copies of the dashboards and rules match monitoring/ (node monitoring/sync.mjs --check)', async () => {
    const { stdout } = await execFileP(process.execPath, [repoPath('monitoring/sync.mjs'), '--check']);
    assert.match(stdout, /up to date/);
  });

  test('the dashboards are valid Grafana JSON with unique uids and a datasource variable', () => {
    const uids = new Set<string>();
    for (const file of ['megaphone-cluster.json', 'megaphone-producer.json']) {
      const d = JSON.parse(readFileSync(repoPath('monitoring/grafana/dashboards', file), 'utf8')) as { uid: string; title: string; panels: { id: number; datasource?: { uid: string } }[]; templating: { list: { name: string; type: string }[] } };
      assert.ok(!uids.has(d.uid));
      uids.add(d.uid);
      assert.ok(d.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'), `${file} datasource variable`);
      const ids = d.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file} panel ids are unique`);
      for (const p of d.panels) if (p.datasource) assert.equal(p.datasource.uid, '${datasource}', `${file} panel ${p.id}`);
    }
  });
});
