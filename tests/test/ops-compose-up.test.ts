// `docker compose up` for real: podman serves the Docker API (/work/shared/CONTAINERS.md), the
// images are built from the project's Dockerfiles, and the stack (everything but Grafana, which has
// no Debian package) is checked through haproxy on 127.0.0.1:8080. Slow (image builds); bounded,
// and it always tears the stack down and stops the podman service it started.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { mintHs256 } from '@megaphone/auth/testing';
import { freePort, getText, waitFor, portIsFree } from '../src/ops/net.js';
import { repoPath } from '../src/ops/paths.js';
import { composeRunner, startPodmanService, type ComposeRunner, type PodmanService } from '../src/ops/podman.js';
import { queryPrometheus } from '../src/ops/prometheus.js';
import { readSse } from '../src/ops/sse.js';
import { OpsClient, type Msg } from '../src/ops/ws-client.js';

const execFileP = promisify(execFile);
const BASE_IMAGES = ['docker.io/library/node:20-bookworm-slim', 'docker.io/library/redis:7.0-bookworm', 'docker.io/library/haproxy:2.6-bookworm', 'docker.io/prom/prometheus:v2.42.0'];
const SERVICES = ['redis', 'producer', 'producer-2', 'gateway-1', 'gateway-2', 'gateway-3', 'haproxy', 'prometheus'];
const PROJECT = 'megaphone-ops-test';

const httpPort = (await portIsFree(8080, '0.0.0.0')) ? 8080 : await freePort();
const promPort = await freePort();
const base = `http://127.0.0.1:${httpPort}`;
const wsUrl = `ws://127.0.0.1:${httpPort}/ws`;
const timings: string[] = [];
// Compose refuses to start without these (no well-known fallback).
const AUTH_JWT_SECRET = 'compose-up-test-secret-0123456789abcdefghij';
const PRODUCER_API_TOKEN = 'compose-up-test-api-token';

async function imageMissing(name: string): Promise<boolean> {
  return execFileP('podman', ['image', 'exists', name]).then(() => false, () => true);
}

/** Connects through haproxy until a gateway other than `avoid` answers with `welcome`. */
async function connectAvoiding(avoid: string | undefined): Promise<{ client: OpsClient; node: string }> {
  return waitFor(`a connection to a gateway other than ${avoid}`, async () => {
    const client = new OpsClient(wsUrl, { origin: base });
    try {
      await client.opened;
      const welcome = await client.waitFor('welcome', (m) => m.op === 'welcome', 5000);
      if (welcome.node === avoid) {
        client.close();
        return undefined;
      }
      return { client, node: String(welcome.node) };
    } catch {
      client.close();
      return undefined;
    }
  }, { timeoutMs: 30_000, intervalMs: 300 });
}

describe('docker compose up under podman', { timeout: 20 * 60_000 }, () => {
  let podman: PodmanService | undefined;
  let compose: ComposeRunner | undefined;
  let stopPump: (() => Promise<void>) | undefined;
  const clients: OpsClient[] = [];

  before(async () => {
    const started = Date.now();
    if ((await Promise.all(BASE_IMAGES.map(imageMissing))).some(Boolean)) {
      // Normally done by .ci/run; idempotent and cached under /var/cache/megaphone-images.
      await execFileP('bash', [repoPath('.ci/install-ops.sh')], { timeout: 15 * 60_000 });
      timings.push(`base images ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    podman = await startPodmanService();
    compose = composeRunner(PROJECT, podman.dockerHost, {
      MEGAPHONE_HTTP_PORT: String(httpPort),
      MEGAPHONE_PROMETHEUS_PORT: String(promPort),
      MEGAPHONE_PRODUCER_PORT: String(await freePort()),
      MEGAPHONE_PRODUCER_2_PORT: String(await freePort()),
      MEGAPHONE_HAPROXY_STATS_PORT: String(await freePort()),
      MEGAPHONE_GRAFANA_PORT: String(await freePort()),
      AUTH_JWT_SECRET,
      PRODUCER_API_TOKEN,
    }, (line) => timings.push(line));
    // A stack left behind by an interrupted run would hold the ports.
    await compose.run(['down', '-v', '--remove-orphans'], 120_000).catch(() => undefined);
    stopPump = compose.startHealthPump();
  });

  after(async () => {
    for (const c of clients) c.close();
    await stopPump?.();
    if (compose) await compose.run(['down', '-v', '--remove-orphans', '-t', '5'], 180_000).catch((err: unknown) => console.error(String(err)));
    await podman?.stop();
    // Images replaced by rebuilds pile up across runs; keep a day's worth as build cache.
    await execFileP('podman', ['image', 'prune', '-f', '--filter', 'until=24h'], { timeout: 120_000 }).catch(() => undefined);
    console.error(`compose test timings:\n  ${timings.join('\n  ')}`);
  });

  test('builds the images from the Dockerfiles and brings the stack up with healthy services', async () => {
    const c = compose!;
    // Both images at once: the build stages are mostly single-threaded tsc.
    await c.run(['build', '--parallel', 'producer', 'gateway-1'], 15 * 60_000);
    const { stdout } = await execFileP('podman', ['image', 'inspect', 'megaphone/gateway:dev', '--format', '{{.Config.User}} {{json .Config.Entrypoint}} {{index .Config.Labels "org.opencontainers.image.title"}}']);
    assert.equal(stdout.trim(), 'node ["/usr/bin/tini","--"] megaphone-gateway');
    await c.run(['up', '-d', '--no-build', ...SERVICES], 5 * 60_000);
    const ps = await c.run(['ps']);
    for (const s of SERVICES) assert.match(ps, new RegExp(`${PROJECT}_${s}_1\\s.*Up`), `${s} is up:\n${ps}`);
  });

  test('the console loads through haproxy on :8080', async () => {
    const page = await waitFor('the console', async () => {
      const r = await getText(`${base}/`);
      return r.status === 200 ? r.text : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    assert.match(page, /<html/i);
    const assets = [...page.matchAll(/(?:src|href)="\/?([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    assert.ok(assets.length > 0, 'the page references its script/styles');
    for (const a of assets) assert.equal((await getText(`${base}/${a}`)).status, 200, a);
  });

  test('a client through haproxy gets uptime and, with a token, the output of a job', async () => {
    const { client } = await connectAvoiding(undefined);
    clients.push(client);
    client.send({ op: 'subscribe', id: 1, channel: 'uptime' });
    client.send({ op: 'subscribe', id: 3, channel: 'cmd:clock' });
    const refused = await client.waitFor('cmd:clock refused without a token', (m) => m.op === 'error' && m.id === 3, 10_000);
    assert.equal(refused.code, 'unauthorized');
    client.send({ op: 'auth', id: 4, token: await mintHs256({ sub: 'ops-test', channels: ['cmd:*'] }, { secret: AUTH_JWT_SECRET }) });
    client.send({ op: 'subscribe', id: 2, channel: 'cmd:clock', history: 20 });
    const uptime = await client.waitFor('an uptime message', (m) => m.op === 'message' && m.channel === 'uptime', 30_000);
    assert.equal(typeof (uptime.data as { uptimeSeconds?: unknown }).uptimeSeconds, 'number');
    const output = await client.waitFor('output of the clock job', (m) => m.op === 'message' && m.channel === 'cmd:clock' && (m.data as { stream?: string }).stream === 'stdout', 30_000);
    const lines = (output.data as { lines: string[] }).lines;
    assert.match(lines[0] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    client.close();
  });

  test('Server-Sent Events stream through haproxy', async () => {
    const events = await readSse(`${base}/sse?channel=uptime`, (e) => e.event === 'message', 30_000);
    const msg = JSON.parse(events.at(-1)!.data) as { channel: string; offset: number };
    assert.equal(msg.channel, 'uptime');
    assert.match(events.at(-1)!.id ?? '', /^uptime@.+\/\d+$/);
  });

  test('Prometheus has scraped all three gateways and both producers, with the alert rules loaded', async () => {
    const prom = `http://127.0.0.1:${promPort}`;
    const up = await waitFor('all targets up', async () => {
      const r = await queryPrometheus(prom, 'up{job=~"megaphone-.*"} == 1');
      return r.length === 5 ? r : undefined;
    }, { timeoutMs: 90_000, intervalMs: 1000 });
    assert.deepEqual(up.map((s) => s.metric.instance).sort(), ['gateway-1:9100', 'gateway-2:9100', 'gateway-3:9100', 'producer-2:9101', 'producer:9101']);
    const nodes = await waitFor('megaphone_connections from every gateway', async () => {
      const r = await queryPrometheus(prom, 'megaphone_connections');
      const n = new Set(r.map((s) => s.metric.node));
      return n.size === 3 ? [...n].sort() : undefined;
    }, { timeoutMs: 60_000, intervalMs: 1000 });
    assert.deepEqual(nodes, ['gateway-1', 'gateway-2', 'gateway-3']);
    const rules = JSON.parse((await getText(`${prom}/api/v1/rules`)).text) as { data: { groups: { rules: unknown[] }[] } };
    assert.ok(rules.data.groups.flatMap((g) => g.rules).length >= 10, 'alert rules are loaded');
  });

  test('a client resumes without loss on another gateway after its gateway container is stopped', async () => {
    const { client, node } = await connectAvoiding(undefined);
    clients.push(client);
    client.send({ op: 'subscribe', id: 1, channel: 'uptime' });
    const subscribed = await client.waitFor('subscribed', (m) => m.op === 'subscribed', 10_000);
    await client.waitFor('two uptime messages', () => client.messages.filter((m) => m.op === 'message').length >= 2, 15_000);
    const stopped = Date.now();
    const stopping = compose!.run(['stop', '-t', '30', node], 120_000);
    const closed = await client.waitClosed(30_000);
    assert.equal(closed.code, 1001, `closed with ${closed.code} ${closed.reason}`);
    const seen = client.messages.filter((m): m is Msg & { offset: number } => m.op === 'message' && m.channel === 'uptime');
    const last = seen.at(-1)!.offset;

    const { client: again, node: other } = await connectAvoiding(node);
    clients.push(again);
    assert.notEqual(other, node);
    again.send({ op: 'subscribe', id: 1, channel: 'uptime', since: { epoch: subscribed.epoch, offset: last } });
    const resumed = await again.waitFor('resubscribed', (m) => m.op === 'subscribed', 10_000);
    assert.equal(resumed.recovered, true);
    await again.waitFor('three more uptime messages', () => again.messages.filter((m) => m.op === 'message').length >= 3, 20_000);
    const offsets = again.messages.filter((m) => m.op === 'message').map((m) => Number(m.offset));
    assert.deepEqual(offsets, offsets.map((_, i) => last + 1 + i), 'continues right after the last offset seen, no gap, no duplicate');
    await stopping;
    timings.push(`gateway ${node} stopped in ${((Date.now() - stopped) / 1000).toFixed(1)} s`);
    const { stdout } = await execFileP('podman', ['inspect', `${PROJECT}_${node}_1`, '--format', '{{.State.ExitCode}}']);
    assert.equal(stdout.trim(), '0', 'the drained gateway exited 0');
    again.close();
  });

  test('docker-compose config -q accepts the compose file', async () => {
    await compose!.run(['config', '-q'], 60_000);
  });
});
