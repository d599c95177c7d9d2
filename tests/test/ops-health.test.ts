// What orchestrators rely on, on the real service processes (the services' bins, which import
// what the images run): /healthz never depends on Redis while /readyz does; a second SIGTERM
// exits at once; the producer stops its jobs' processes before it exits.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { freePort, getText, waitFor } from '../src/ops/net.js';
import { repoPath } from '../src/ops/paths.js';
import { OpsClient } from '../src/ops/ws-client.js';
import { GATEWAY_BIN, GATEWAY_NODE_FLAGS } from '@megaphone/gateway';
import { PRODUCER_BIN } from '@megaphone/producer';
import { processAlive } from '@megaphone/testing';

interface Proc {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(main: string, env: Record<string, string>, nodeFlags: readonly string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeFlags, main], { env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env }, stdio: 'ignore' });
  return { child, exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))) };
}

async function kill(p: Proc): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

describe('health and signals of the service processes', { timeout: 90_000 }, () => {
  test('a gateway whose Redis is unreachable is alive (/healthz 200) but not ready (/readyz 503)', async () => {
    const deadRedis = await freePort();
    const adminPort = await freePort();
    const gw = run(GATEWAY_BIN, {
      REDIS_URL: `redis://127.0.0.1:${deadRedis}`,
      GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(await freePort()),
      GATEWAY_ADMIN_HOST: '127.0.0.1', GATEWAY_ADMIN_PORT: String(adminPort),
    });
    try {
      const health = await waitFor('/healthz', async () => {
        const r = await getText(`http://127.0.0.1:${adminPort}/healthz`);
        return r.status === 200 ? r : undefined;
      }, { timeoutMs: 20_000 });
      assert.equal(health.status, 200);
      const ready = await getText(`http://127.0.0.1:${adminPort}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal((JSON.parse(ready.text) as { ready: boolean }).ready, false);
    } finally {
      await kill(gw);
    }
  });

  test('a second SIGTERM makes a draining gateway exit at once', async () => {
    const port = await freePort();
    const adminPort = await freePort();
    const gw = run(GATEWAY_BIN, {
      GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port),
      GATEWAY_ADMIN_HOST: '127.0.0.1', GATEWAY_ADMIN_PORT: String(adminPort),
      GATEWAY_DRAIN_MS: '30000',
    });
    const clients: OpsClient[] = [];
    try {
      await waitFor('ready', async () => (await getText(`http://127.0.0.1:${adminPort}/readyz`)).status === 200, { timeoutMs: 20_000 });
      for (let i = 0; i < 20; i++) {
        const c = new OpsClient(`ws://127.0.0.1:${port}/ws`, { origin: `http://127.0.0.1:${port}` });
        clients.push(c);
        await c.opened;
      }
      gw.child.kill('SIGTERM');
      await waitFor('draining', async () => (await getText(`http://127.0.0.1:${adminPort}/readyz`)).status === 503, { timeoutMs: 5000, intervalMs: 20 });
      const second = Date.now();
      gw.child.kill('SIGTERM');
      const exit = await gw.exited;
      assert.ok(Date.now() - second < 3000, `exited ${Date.now() - second} ms after the second signal (drain window 30 s)`);
      assert.notEqual(exit.code, null);
    } finally {
      for (const c of clients) c.close();
      await kill(gw);
    }
  });

  test('SIGTERM on the producer stops its running commands (their process groups) and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-health-'));
    const pidFile = join(dir, 'job.pid');
    writeFileSync(join(dir, 'jobs.yaml'), `jobs:\n  - name: endless\n    command: ["sh", "-c", "sleep 1000 & echo $! > ${pidFile}; echo started; wait"]\n    restart: always\n`);
    const adminPort = await freePort();
    const producer = run(PRODUCER_BIN, {
      PRODUCER_HOST: '127.0.0.1', PRODUCER_PORT: String(await freePort()),
      PRODUCER_ADMIN_HOST: '127.0.0.1', PRODUCER_ADMIN_PORT: String(adminPort),
      PRODUCER_JOBS_FILE: join(dir, 'jobs.yaml'), PRODUCER_KILL_GRACE_MS: '1000',
    });
    let grandchild = 0;
    try {
      await waitFor('the job to start', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim().length > 0, { timeoutMs: 20_000 });
      grandchild = Number(readFileSync(pidFile, 'utf8').trim());
      assert.ok(processAlive(grandchild));
      producer.child.kill('SIGTERM');
      const exit = await producer.exited;
      assert.deepEqual(exit, { code: 0, signal: null });
      await waitFor('the job\'s background process to be gone', () => !processAlive(grandchild), { timeoutMs: 5000, intervalMs: 50 });
    } finally {
      await kill(producer);
      if (grandchild && processAlive(grandchild)) process.kill(grandchild, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the gateway runs with its V8 flags wherever we start it, and they cap its young generation', async () => {
    const dockerfile = readFileSync(repoPath('services/gateway/Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    assert.deepEqual(cmd, ['node', ...GATEWAY_NODE_FLAGS, 'services/gateway/dist/src/main.js']);
    const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts['gateway'] ?? '', new RegExp(`^exec node ${GATEWAY_NODE_FLAGS.join(' ')} .*services/gateway/bin/megaphone-gateway\\.js$`));
    assert.equal(readFileSync(GATEWAY_BIN, 'utf8').split('\n')[0], `#!/usr/bin/env -S node ${GATEWAY_NODE_FLAGS.join(' ')}`);
    // npm run cluster and the bench start it through @megaphone/testing's launcher, which puts these flags first.
    for (const launcher of ['scripts/cluster.mjs', 'bench/src/systems.ts']) assert.match(readFileSync(repoPath(launcher), 'utf8'), /gatewayNodeFlags: GATEWAY_NODE_FLAGS/, launcher);

    const semiMiB = Number(/^--max-semi-space-size=(\d+)$/.exec(GATEWAY_NODE_FLAGS.find((f) => f.startsWith('--max-semi-space-size=')) ?? '')?.[1]);
    assert.ok(semiMiB > 0, 'GATEWAY_NODE_FLAGS sets --max-semi-space-size');
    const port = await freePort();
    const adminPort = await freePort();
    const gw = run(repoPath(cmd.at(-1)!), {
      GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port),
      GATEWAY_ADMIN_HOST: '127.0.0.1', GATEWAY_ADMIN_PORT: String(adminPort),
      // 500 connections from one address in a burst, which the default per-address limits would refuse.
      GATEWAY_MAX_CONNECTIONS_PER_IP: '1000', GATEWAY_CONNECTS_PER_IP_PER_SECOND: '1000',
    }, cmd.slice(1, -1));
    const clients: OpsClient[] = [];
    try {
      await waitFor('ready', async () => (await getText(`http://127.0.0.1:${adminPort}/readyz`)).status === 200, { timeoutMs: 20_000 });
      // A burst of connections is what grows the young generation (to 2 × 16 MiB without the flag).
      for (let i = 0; i < 500; i++) clients.push(new OpsClient(`ws://127.0.0.1:${port}/ws`, { origin: `http://127.0.0.1:${port}` }));
      await Promise.all(clients.map((c) => c.opened));
      const metrics = (await getText(`http://127.0.0.1:${adminPort}/metrics`)).text;
      const newSpace = Number(/^megaphone_nodejs_heap_space_size_total_bytes\{space="new"[^}]*\} (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(newSpace > 0, 'the heap space metric is exported');
      assert.ok(newSpace <= 2 * semiMiB * 1024 * 1024, `young generation ${newSpace} bytes, cap 2 × ${semiMiB} MiB`);
    } finally {
      for (const c of clients) c.close();
      await kill(gw);
    }
  });
});
