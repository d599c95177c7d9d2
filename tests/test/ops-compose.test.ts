// Static checks of docker-compose.yml, the haproxy and Prometheus configs it mounts and the
// Dockerfiles, against the services' own parsers and defaults. The stack itself runs in
// ops-compose-up.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { GATEWAY_ENV_NAMES, readGatewayConfig } from '@megaphone/gateway';
import { PRODUCER_ENV_NAMES, parseJobsFile, readProducerConfig } from '@megaphone/producer';
import { repoPath } from '../src/ops/paths.js';

const execFileP = promisify(execFile);

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }> | string[];
  volumes?: string[];
  ports?: (string | { published: number; target: number })[];
}

/** The compose file as docker-compose resolves it (anchors, merges, defaults for ${VAR:-x}). */
async function resolvedCompose(): Promise<{ services: Record<string, ComposeService> }> {
  const { stdout } = await execFileP('docker-compose', ['config'], { cwd: repoPath(), env: { ...process.env, ...SECRETS } });
  return parse(stdout) as { services: Record<string, ComposeService> };
}

const GATEWAYS = ['gateway-1', 'gateway-2', 'gateway-3'];
const SECRETS = { PRODUCER_API_TOKEN: 'test-token', AUTH_JWT_SECRET: 'compose-test-secret-0123456789abcdefghijkl' };
const PRODUCERS = ['producer', 'producer-2'];

describe('docker-compose.yml', () => {
  test('docker-compose config -q accepts it with the secrets set', async () => {
    await execFileP('docker-compose', ['config', '-q'], { cwd: repoPath(), env: { ...process.env, ...SECRETS } });
  });

  test('without PRODUCER_API_TOKEN or AUTH_JWT_SECRET it refuses to start, saying how to set them', async () => {
    const env = { ...process.env };
    delete env['PRODUCER_API_TOKEN'];
    delete env['AUTH_JWT_SECRET'];
    for (const [name, value] of [['PRODUCER_API_TOKEN', undefined], ['AUTH_JWT_SECRET', undefined]] as const) {
      const withOne = { ...env, ...SECRETS, [name]: value ?? '' };
      const err = await execFileP('docker-compose', ['config', '-q'], { cwd: repoPath(), env: withOne }).then(() => undefined, (e: { stderr: string }) => e);
      assert.ok(err !== undefined, `compose starts without ${name}`);
      assert.match(err.stderr, new RegExp(`set ${name} to a random .*openssl rand`), err.stderr);
    }
    assert.doesNotMatch(readFileSync(repoPath('docker-compose.yml'), 'utf8'), /change-me/);
  });

  test('tokens are on: a key on every service, only uptime public, admin ports open to the network, haproxy the one trusted proxy', async () => {
    const { services } = await resolvedCompose();
    for (const g of GATEWAYS) {
      const cfg = readGatewayConfig(services[g]!.environment!);
      assert.equal(cfg.auth.secret, SECRETS.AUTH_JWT_SECRET, g);
      assert.deepEqual(cfg.auth.publicChannels, ['uptime']);
      assert.equal(cfg.adminHost, '0.0.0.0');
      assert.deepEqual(cfg.trustedProxies, ['172.30.42.10/32']);
      assert.ok(cfg.allowedHosts.kind === 'list' && cfg.allowedHosts.names.includes('localhost'));
    }
    const compose = parse(readFileSync(repoPath('docker-compose.yml'), 'utf8')) as {
      services: Record<string, { networks?: { default?: { ipv4_address?: string } } }>;
      networks: { default: { ipam: { config: { subnet: string; ip_range: string }[] } } };
    };
    assert.equal(compose.services['haproxy']?.networks?.default?.ipv4_address, '172.30.42.10');
    // Other containers get addresses from ip_range, which must not hold haproxy's (podman hands
    // out addresses sequentially across runs, so a fixed one inside the range is taken sooner or later).
    assert.deepEqual(compose.networks.default.ipam.config, [{ subnet: '172.30.42.0/24', ip_range: '172.30.42.128/25' }]);
    assert.match(readFileSync(repoPath('deploy/haproxy/haproxy.cfg'), 'utf8'), /option forwardfor/);
    const p = readProducerConfig({ ...services.producer!.environment!, PRODUCER_JOBS_FILE: repoPath('deploy/jobs.yaml') });
    assert.equal(p.auth.secret, SECRETS.AUTH_JWT_SECRET);
    assert.equal(p.adminHost, '0.0.0.0');
    assert.ok(p.allowedHosts.kind === 'list' && p.allowedHosts.names.includes('producer'));
  });

  test('has redis, two producers, three gateways, haproxy, prometheus and grafana', async () => {
    const { services } = await resolvedCompose();
    assert.deepEqual(Object.keys(services).sort(), ['gateway-1', 'gateway-2', 'gateway-3', 'grafana', 'haproxy', 'producer', 'producer-2', 'prometheus', 'redis']);
    assert.ok(services.redis?.healthcheck, 'redis has a healthcheck');
  });

  test('every environment variable is one the gateway or producer parser accepts, and the values parse', async () => {
    const { services } = await resolvedCompose();
    for (const g of GATEWAYS) {
      const env = services[g]!.environment!;
      assert.deepEqual(Object.keys(env).filter((k) => !GATEWAY_ENV_NAMES.includes(k)), [], g);
      const cfg = readGatewayConfig(env);
      assert.equal(cfg.nodeName, g, 'NODE_NAME is the service name (Prometheus targets and welcome.node)');
      assert.equal(cfg.bus.kind, 'redis');
    }
    for (const name of PRODUCERS) {
      const env = services[name]!.environment!;
      assert.deepEqual(Object.keys(env).filter((k) => !PRODUCER_ENV_NAMES.includes(k)), [], name);
      assert.equal(env.NODE_NAME, name, 'each producer has its own name (uptime, logs, Prometheus targets)');
      assert.equal(env.REDIS_URL, services.producer!.environment!.REDIS_URL, 'both share one Redis, so one leads');
    }
    const penv = services.producer!.environment!;
    // The jobs file is mounted where PRODUCER_JOBS_FILE points; parse the repo file in its place.
    const mount = services.producer!.volumes!.find((v) => v.includes(`:${penv.PRODUCER_JOBS_FILE}`));
    assert.ok(mount, 'the jobs file is mounted');
    const hostPath = mount.split(':')[0]!;
    assert.deepEqual(parseJobsFile(readFileSync(hostPath, 'utf8'), hostPath).problems, []);
    const cfg = readProducerConfig({ ...penv, PRODUCER_JOBS_FILE: hostPath });
    assert.equal(cfg.bus.kind, 'redis');
  });

  test('healthchecks probe /readyz on the admin ports the services listen on', async () => {
    const { services } = await resolvedCompose();
    for (const g of GATEWAYS) {
      const cfg = readGatewayConfig(services[g]!.environment!);
      const test = services[g]!.healthcheck!.test.join(' ');
      assert.ok(test.includes(`http://127.0.0.1:${cfg.adminPort}/readyz`), `${g}: ${test}`);
      assert.ok(!/\s/.test(services[g]!.healthcheck!.test.at(-1)!), 'no spaces in the script: podman splits on them');
    }
    for (const name of PRODUCERS) {
      const p = services[name]!;
      const pcfg = readProducerConfig({ ...p.environment!, PRODUCER_JOBS_FILE: repoPath('deploy/jobs.yaml') });
      assert.ok(p.healthcheck!.test.join(' ').includes(`http://127.0.0.1:${pcfg.adminPort}/readyz`), name);
      assert.ok(!/\s/.test(p.healthcheck!.test.at(-1)!));
    }
  });

  test('services wait for healthy dependencies', async () => {
    const { services } = await resolvedCompose();
    const cond = (s: string, dep: string) => (services[s]!.depends_on as Record<string, { condition: string }>)[dep]?.condition;
    for (const s of [...PRODUCERS, ...GATEWAYS]) assert.equal(cond(s, 'redis'), 'service_healthy', s);
    for (const g of GATEWAYS) assert.equal(cond('haproxy', g), 'service_healthy', `haproxy waits for ${g}`);
  });

  test('haproxy balances over the three gateways on their client port and checks /readyz on the admin port', async () => {
    const { services } = await resolvedCompose();
    const cfg = readFileSync(repoPath('deploy/haproxy/haproxy.cfg'), 'utf8');
    assert.match(cfg, /http-check send meth GET uri \/readyz/);
    assert.match(cfg, /timeout tunnel\s+1h/, 'long WebSocket tunnels');
    assert.doesNotMatch(cfg, /^\s*option http-server-close/m);
    for (const g of GATEWAYS) {
      const gcfg = readGatewayConfig(services[g]!.environment!);
      assert.match(cfg, new RegExp(`server ${g} ${g}:${gcfg.port}\\b`), g);
      assert.match(cfg, new RegExp(`default-server check port ${gcfg.adminPort}\\b`));
    }
    assert.match(cfg, /bind :8080/);
    assert.ok(services.haproxy!.ports!.some((p) => typeof p === 'object' ? p.published === 8080 && p.target === 8080 : /^(\S+:)?8080:8080(\/tcp)?$/.test(p)), 'published on :8080');
    const dir = mkdtempSync(join(tmpdir(), 'ops-haproxy-'));
    try {
      // haproxy -c resolves server names at check time; the compose names exist only inside the network.
      writeFileSync(join(dir, 'haproxy.cfg'), cfg.replace(/server (gateway-\d) gateway-\d:/g, 'server $1 127.0.0.1:'));
      await execFileP('haproxy', ['-c', '-q', '-f', join(dir, 'haproxy.cfg')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Prometheus scrapes every gateway and both producers on their admin ports and loads the alert rules', async () => {
    const { services } = await resolvedCompose();
    const prom = parse(readFileSync(repoPath('deploy/prometheus/prometheus.yml'), 'utf8')) as { rule_files: string[]; scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    const targets = (job: string) => prom.scrape_configs.find((s) => s.job_name === job)!.static_configs.flatMap((s) => s.targets).sort();
    assert.deepEqual(targets('megaphone-gateway'), GATEWAYS.map((g) => `${g}:${readGatewayConfig(services[g]!.environment!).adminPort}`));
    const pcfg = readProducerConfig({ ...services.producer!.environment!, PRODUCER_JOBS_FILE: repoPath('deploy/jobs.yaml') });
    assert.deepEqual(targets('megaphone-producer'), PRODUCERS.map((p) => `${p}:${pcfg.adminPort}`).sort());
    const ruleMount = services.prometheus!.volumes!.find((v) => v.includes('monitoring/prometheus/alerts.yml'));
    assert.ok(ruleMount, 'the one rules file is mounted');
    assert.ok(prom.rule_files.some((glob) => ruleMount.split(':')[1]!.startsWith(glob.replace('*.yml', ''))), 'mounted where rule_files looks');
  });

  test('Grafana gets the datasource and the dashboards from monitoring/ without manual import', async () => {
    const { services } = await resolvedCompose();
    const vols = services.grafana!.volumes!;
    const dash = vols.find((v) => v.includes('monitoring/grafana/dashboards'));
    assert.ok(dash);
    const provider = parse(readFileSync(repoPath('deploy/grafana/provisioning/dashboards/megaphone.yml'), 'utf8')) as { providers: { options: { path: string } }[] };
    assert.equal(provider.providers[0]!.options.path, dash.split(':')[1]);
    const ds = parse(readFileSync(repoPath('deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: { type: string; url: string }[] };
    assert.equal(ds.datasources[0]!.type, 'prometheus');
    assert.equal(ds.datasources[0]!.url, 'http://prometheus:9090');
    assert.ok(vols.some((v) => v.includes('deploy/grafana/provisioning') && v.includes(':/etc/grafana/provisioning')));
  });

  test('images are the ones .ci/install-ops.sh builds locally, and the Dockerfiles expose the services\' ports', async () => {
    const { services } = await resolvedCompose();
    const script = readFileSync(repoPath('.ci/install-ops.sh'), 'utf8');
    for (const s of ['redis', 'haproxy', 'prometheus']) {
      const image = services[s]!.image!;
      const full = image.includes('/') ? `docker.io/${image}` : `docker.io/library/${image}`;
      assert.ok(script.includes(full), `${s}: ${full} is built by install-ops.sh`);
    }
    for (const [svc, file, ports] of [['gateway-1', 'services/gateway/Dockerfile', [8080, 9100]], ['producer', 'services/producer/Dockerfile', [8090, 9101]]] as const) {
      assert.equal(services[svc]!.build!.dockerfile, file);
      const df = readFileSync(repoPath(file), 'utf8');
      assert.match(df, /^FROM \$\{NODE_IMAGE\} AS build$/m);
      assert.match(df, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
      assert.ok(script.includes('docker.io/library/node:20-bookworm-slim'));
      assert.match(df, new RegExp(`^EXPOSE ${ports.join(' ')}$`, 'm'));
      assert.match(df, /^USER node$/m);
      assert.match(df, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
      assert.match(df, /org\.opencontainers\.image\.title=/);
      assert.match(df, /npm prune --omit=dev/);
    }
  });

  test('the Dockerfiles copy every workspace manifest, so npm ci accepts the lockfile', () => {
    const root = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { workspaces: string[] };
    for (const file of ['services/gateway/Dockerfile', 'services/producer/Dockerfile']) {
      const df = readFileSync(repoPath(file), 'utf8');
      for (const w of root.workspaces) assert.match(df, new RegExp(`^COPY ${w}/package.json ${w}/$`, 'm'), `${file} copies ${w}/package.json`);
    }
  });
});
