// `npm run cluster`: the script starts the topology as local processes, prints its URLs, serves
// clients through the balancer, and stops every process it started on SIGINT (Ctrl-C).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { startLocalCluster } from '../src/ops/cluster.js';
import { getText, waitFor, portIsFree } from '../src/ops/net.js';
import { repoPath } from '../src/ops/paths.js';
import { readSse } from '../src/ops/sse.js';
import { OpsClient } from '../src/ops/ws-client.js';
import { processAlive } from '@megaphone/testing';

describe('npm run cluster', { timeout: 90_000 }, () => {
  test('prints the URLs, serves the console and WebSocket clients through haproxy, and stops everything on SIGINT', async () => {
    const child = spawn(process.execPath, [repoPath('scripts/cluster.mjs'), '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('the URL listing', () => out.includes('redis '), { timeoutMs: 45_000, intervalMs: 100 });
      assert.match(out, /balancer: haproxy/);
      const console_ = /console\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1];
      assert.ok(console_, out);
      assert.equal((await getText(`${console_}/`)).status, 200);
      const ws = new OpsClient(`${console_.replace('http', 'ws')}/ws`, { origin: console_ });
      await ws.opened;
      const welcome = await ws.waitFor('welcome', (m) => m.op === 'welcome');
      assert.match(String(welcome.node), /^gateway-[123]$/);
      ws.send({ op: 'subscribe', id: 1, channel: 'uptime' });
      await ws.waitFor('uptime', (m) => m.op === 'message' && m.channel === 'uptime');
      ws.close();
      const events = await readSse(`${console_}/sse?channel=uptime`, (e) => e.event === 'message');
      assert.equal((JSON.parse(events.at(-1)!.data) as { channel: string }).channel, 'uptime', 'SSE through haproxy');
      const pids = [...out.matchAll(/:(\d+)\/metrics/g)].length;
      assert.equal(pids, 5, 'metrics URLs for two producers and three gateways');
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0);
    // Every port it printed (balancer, producer, gateways, admin ports, Redis, stats) is released.
    const ports = [...new Set([...out.matchAll(/(?:http|ws|redis):\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])))];
    assert.ok(ports.length >= 10, `ports printed: ${ports.join(', ')}`);
    const held = [];
    for (const p of ports) if (!(await portIsFree(p, '127.0.0.1'))) held.push(p);
    assert.deepEqual(held, []);
  });

  test('with the Node balancer, stop() ends every process it started', async () => {
    const cluster = await startLocalCluster({ port: 0, gateways: 2, balancer: 'node' });
    let stopped = false;
    try {
      assert.equal(cluster.balancer.kind, 'node');
      const ws = new OpsClient(cluster.wsUrl, { origin: cluster.url });
      await ws.opened;
      await ws.waitFor('welcome', (m) => m.op === 'welcome');
      ws.close();
      const sse = await fetch(`${cluster.url}/sse?channel=uptime`, { signal: AbortSignal.timeout(5000) });
      assert.equal(sse.status, 200);
      assert.match(sse.headers.get('content-type') ?? '', /text\/event-stream/);
      await sse.body?.cancel();
      assert.equal(cluster.producers.length, 2);
      const leaders = await Promise.all(cluster.producers.map(async (p) => /^megaphone_producer_leader\{[^}]*\} 1$/m.test((await getText(p.metricsUrl)).text)));
      assert.deepEqual(leaders.sort(), [false, true], 'one producer leads, the other stands by');
      const pids = [cluster.redis.pid, ...cluster.producers.map((p) => p.pid), ...cluster.gateways.map((g) => g.pid)];
      assert.ok(pids.every(processAlive));
      await cluster.stop();
      stopped = true;
      assert.deepEqual(pids.filter(processAlive), []);
    } finally {
      if (!stopped) await cluster.stop();
    }
  });
});
