#!/usr/bin/env node
// `npm run cluster`: the docker-compose topology as local processes, without containers:
// redis-server (from PATH) on a free port, two producers (one leads), three gateways and a load balancer
// (haproxy from PATH; without it a small Node TCP round-robin balancer), all from the built output.
// Prints the URLs; Ctrl-C or SIGTERM stops everything (gateways drain first).
//
//   npm run cluster                         # balancer on :8080
//   npm run cluster -- --port 9000 --gateways 2
//
// Importable: `startCluster({ port: 0, gateways: 3, producers: 2 })` returns the ports, pids and `stop()`;
// the ops tests use it (tests/src/ops/cluster.ts).
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const root = fileURLToPath(new URL('..', import.meta.url));
const GATEWAY_MAIN = join(root, 'services/gateway/dist/src/main.js');
const PRODUCER_MAIN = join(root, 'services/producer/dist/src/main.js');
const GATEWAY_FLAGS = join(root, 'services/gateway/dist/src/node-flags.js');

/** A port that was free a moment ago (bind :0, read it, close). */
export async function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/** The first executable called `name` on PATH, or undefined. */
export function which(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err?.fatal) throw err; // e.g. the process exited: waiting longer cannot help
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function httpOk(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
}

function tcpOpen(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

function redisPing(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    s.setTimeout(1000, () => { s.destroy(); resolve(false); });
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { buf += d; if (buf.includes('\r\n')) { s.destroy(); resolve(buf.startsWith('+PONG')); } });
    s.once('error', () => resolve(false));
  });
}

/** haproxy configuration for local gateways: the compose one (deploy/haproxy) with local addresses. */
export function haproxyConfig({ port, gateways, statsPort }) {
  return [
    'global',
    '  log stdout format raw local0 warning',
    'defaults',
    '  mode http',
    '  log global',
    '  timeout connect 5s',
    '  timeout http-request 10s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout tunnel 1h',
    'frontend megaphone',
    `  bind 127.0.0.1:${port}`,
    '  option forwardfor',
    '  default_backend gateways',
    'backend gateways',
    '  balance leastconn',
    '  option httpchk',
    '  http-check send meth GET uri /readyz',
    '  http-check expect status 200',
    ...gateways.map((g) => `  server ${g.name} 127.0.0.1:${g.port} check port ${g.adminPort} inter 500ms fall 2 rise 2`),
    'frontend stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  monitor-uri /healthz',
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

/**
 * TCP round-robin over the gateways that answer /readyz (checked every 500 ms). Enough for
 * WebSocket and SSE: it never looks inside the stream.
 */
export async function startNodeBalancer({ port, gateways, host = '127.0.0.1' }) {
  const ready = new Set(gateways.map((g) => g.name));
  let next = 0;
  const sockets = new Set();
  const timer = setInterval(() => {
    for (const g of gateways) {
      httpOk(`http://127.0.0.1:${g.adminPort}/readyz`).then(
        (ok) => (ok ? ready.add(g.name) : ready.delete(g.name)),
        () => ready.delete(g.name),
      );
    }
  }, 500);
  const server = createServer((client) => {
    const candidates = gateways.filter((g) => ready.has(g.name));
    const target = candidates[next++ % Math.max(1, candidates.length)];
    if (!target) { client.destroy(); return; }
    const upstream = connect(target.port, '127.0.0.1');
    sockets.add(client); sockets.add(upstream);
    const done = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream).pipe(client);
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve); });
  return {
    kind: 'node',
    port: /** @type {import('node:net').AddressInfo} */ (server.address()).port,
    stop: () => new Promise((resolve) => {
      clearInterval(timer);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * Starts the cluster. Options (all optional):
 *   port           balancer port (default 8080; 0 = a free port)
 *   gateways       number of gateways (3)
 *   balancer       'auto' (haproxy when on PATH) | 'haproxy' | 'node'
 *   env            extra environment for every service (e.g. { GATEWAY_DRAIN_MS: '3000' })
 *   output         'prefix' (child logs on stdout, prefixed), 'inherit' or 'ignore'
 *   log            function for progress lines (console.log)
 */
export async function startCluster(opts = {}) {
  const {
    port = 8080,
    gateways: count = 3,
    producers: producerCount = 2,
    balancer = 'auto',
    env: extraEnv = {},
    output = 'prefix',
    log = (line) => console.log(line),
    startTimeoutMs = 30_000,
  } = opts;
  for (const main of [GATEWAY_MAIN, PRODUCER_MAIN, GATEWAY_FLAGS]) {
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  }
  const redisServer = which('redis-server');
  if (!redisServer) throw new Error('redis-server is not on PATH (apt-get install redis-server)');

  const children = [];
  const workDir = mkdtempSync(join(tmpdir(), 'megaphone-cluster-'));
  let balancerHandle;

  const launch = (name, cmd, args, env) => {
    const child = spawn(cmd, args, {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      // Own process group: Ctrl-C reaches only this script, which stops the services in order.
      detached: true,
      stdio: output === 'inherit' ? 'inherit' : ['ignore', output === 'prefix' ? 'pipe' : 'ignore', output === 'prefix' ? 'pipe' : 'ignore'],
    });
    if (output === 'prefix') {
      for (const stream of [child.stdout, child.stderr]) {
        let rest = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk) => {
          const lines = (rest + chunk).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) process.stdout.write(`[${name}] ${line}\n`);
        });
      }
    }
    const entry = { name, child, pid: child.pid, exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))) };
    children.push(entry);
    return entry;
  };

  const stopChild = async (entry, signal = 'SIGTERM', timeoutMs = 30_000) => {
    if (entry.child.exitCode !== null || entry.child.signalCode !== null) return entry.exited;
    try { entry.child.kill(signal); } catch { /* already gone */ }
    const timer = setTimeout(() => { try { entry.child.kill('SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    const result = await entry.exited;
    clearTimeout(timer);
    return result;
  };

  let stopped;
  const stop = () => {
    stopped ??= (async () => {
      const services = children.filter((c) => c.name !== 'redis' && c.name !== 'haproxy');
      await Promise.all(services.map((c) => stopChild(c)));
      if (balancerHandle) await balancerHandle.stop();
      await Promise.all(children.filter((c) => c.name === 'haproxy' || c.name === 'redis').map((c) => stopChild(c, 'SIGTERM', 5000)));
      rmSync(workDir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const redisPort = await freePort();
    const redis = launch('redis', redisServer, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {});
    await until('redis-server', () => redisPing(redisPort), startTimeoutMs);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    const common = { REDIS_URL: redisUrl, LOG_LEVEL: 'info', ...extraEnv };

    // Two producers (SPEC §12): one leads and runs the jobs, the other stands by and serves the same API.
    const producers = [];
    for (let i = 1; i <= producerCount; i++) {
      const p = { name: i === 1 ? 'producer' : `producer-${i}`, port: await freePort(), adminPort: await freePort() };
      const entry = launch(p.name, process.execPath, [PRODUCER_MAIN], {
        NODE_NAME: p.name,
        PRODUCER_HOST: '127.0.0.1',
        PRODUCER_PORT: String(p.port),
        PRODUCER_ADMIN_HOST: '127.0.0.1',
        PRODUCER_ADMIN_PORT: String(p.adminPort),
        ...common,
      });
      producers.push({ ...p, pid: entry.pid, process: entry });
    }
    const producerPorts = { port: producers[0].port, adminPort: producers[0].adminPort };
    const producer = producers[0].process;

    // The V8 flags the gateway ships with (services/gateway/src/node-flags.ts).
    const { GATEWAY_NODE_FLAGS } = await import(pathToFileURL(GATEWAY_FLAGS).href);
    const gateways = [];
    for (let i = 1; i <= count; i++) {
      const g = { name: `gateway-${i}`, port: await freePort(), adminPort: await freePort() };
      const entry = launch(g.name, process.execPath, [...GATEWAY_NODE_FLAGS, GATEWAY_MAIN], {
        NODE_NAME: g.name,
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(g.port),
        GATEWAY_ADMIN_HOST: '127.0.0.1',
        GATEWAY_ADMIN_PORT: String(g.adminPort),
        // A quick Ctrl-C; production drains over 10-20 s.
        GATEWAY_DRAIN_MS: '2000',
        ...common,
      });
      gateways.push({ ...g, pid: entry.pid, process: entry });
    }
    for (const svc of [...producers, ...gateways]) {
      await until(`${svc.name} /readyz`, async () => {
        if (svc.process.child.exitCode !== null) throw Object.assign(new Error(`${svc.name} exited with code ${svc.process.child.exitCode} during start`), { fatal: true });
        return httpOk(`http://127.0.0.1:${svc.adminPort}/readyz`);
      }, startTimeoutMs);
    }

    const lbPort = port === 0 ? await freePort() : port;
    const haproxy = balancer === 'node' ? undefined : which('haproxy');
    if (balancer === 'haproxy' && !haproxy) throw new Error('haproxy is not on PATH');
    let balancerInfo;
    if (haproxy) {
      const statsPort = await freePort();
      const cfg = join(workDir, 'haproxy.cfg');
      writeFileSync(cfg, haproxyConfig({ port: lbPort, gateways, statsPort }));
      const check = spawnSync(haproxy, ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
      if (check.status !== 0) throw new Error(`haproxy rejected its configuration:\n${check.stdout}${check.stderr}`);
      launch('haproxy', haproxy, ['-W', '-db', '-f', cfg], {});
      await until(`haproxy on :${lbPort}`, () => tcpOpen(lbPort), startTimeoutMs);
      balancerInfo = { kind: 'haproxy', port: lbPort, statsUrl: `http://127.0.0.1:${statsPort}/stats` };
    } else {
      balancerHandle = await startNodeBalancer({ port: lbPort, gateways });
      balancerInfo = { kind: 'node', port: balancerHandle.port };
    }

    const url = `http://127.0.0.1:${balancerInfo.port}`;
    const cluster = {
      url,
      wsUrl: `ws://127.0.0.1:${balancerInfo.port}/ws`,
      balancer: balancerInfo,
      redis: { port: redisPort, url: redisUrl, pid: redis.pid },
      producer: { ...producerPorts, pid: producer.pid, url: `http://127.0.0.1:${producerPorts.port}`, metricsUrl: `http://127.0.0.1:${producerPorts.adminPort}/metrics` },
      producers: producers.map(({ process: p, ...x }) => ({ ...x, url: `http://127.0.0.1:${x.port}`, metricsUrl: `http://127.0.0.1:${x.adminPort}/metrics`, exited: p.exited })),
      gateways: gateways.map(({ process: p, ...g }) => ({ ...g, url: `http://127.0.0.1:${g.port}`, metricsUrl: `http://127.0.0.1:${g.adminPort}/metrics`, exited: p.exited })),
      /** Sends `signal` to one gateway (by index) and resolves with its exit. */
      signalGateway: (index, signal = 'SIGTERM') => {
        const entry = gateways[index]?.process;
        if (!entry) throw new Error(`no gateway ${index}`);
        entry.child.kill(signal);
        return entry.exited;
      },
      stop,
    };
    log([
      `megaphone cluster is up (balancer: ${balancerInfo.kind}${balancerInfo.kind === 'node' ? ', haproxy not found on PATH' : ''})`,
      `  console         ${url}/`,
      `  WebSocket       ${cluster.wsUrl}`,
      `  SSE             ${url}/sse?channel=uptime`,
      ...cluster.producers.map((p) => `  ${p.name.padEnd(15)} ${p.url}/v1/jobs  metrics ${p.metricsUrl}`),
      ...cluster.gateways.map((g) => `  ${g.name.padEnd(15)} ${g.url}  metrics ${g.metricsUrl}`),
      `  redis           ${redisUrl}`,
      ...(balancerInfo.statsUrl ? [`  haproxy stats   ${balancerInfo.statsUrl}`] : []),
    ].join('\n'));
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--port') out.port = Number(value());
    else if (a === '--gateways') out.gateways = Number(value());
    else if (a === '--producers') out.producers = Number(value());
    else if (a === '--balancer') out.balancer = value();
    else if (a === '--quiet') out.output = 'ignore';
    else if (a === '--help' || a === '-h') out.help = true;
    else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return out;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(String(err instanceof Error ? err.message : err));
    process.exit(2);
  }
  if (args.help) {
    console.log('usage: npm run cluster -- [--port 8080] [--gateways 3] [--producers 2] [--balancer auto|haproxy|node] [--quiet]');
    return;
  }
  if (!existsSync(GATEWAY_MAIN) || !existsSync(PRODUCER_MAIN) || !existsSync(GATEWAY_FLAGS)) {
    const r = spawnSync(process.execPath, [join(root, 'scripts/ensure-built.mjs')], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  let cluster;
  let signals = 0;
  const onSignal = (signal) => {
    signals++;
    if (signals > 1 || !cluster) {
      console.error(`${signal}: stopping now`);
      process.exit(130);
    }
    console.log(`${signal}: stopping the cluster (gateways drain first; again to force)`);
    cluster.stop().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    cluster = await startCluster(args);
  } catch (err) {
    console.error(`megaphone cluster failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  for (const g of [...cluster.producers, ...cluster.gateways]) {
    g.exited.then(({ code, signal }) => {
      if (signals === 0) console.error(`${g.name} exited (code ${code}, signal ${signal}); the others keep serving`);
    });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
