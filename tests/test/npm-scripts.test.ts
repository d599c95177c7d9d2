// `npm run gateway`, `npm run producer` and `npm start` as a supervisor runs them: a signal sent to
// the npm process must reach the service (npm forwards it to its child, which therefore has to be
// the service itself, not a shell running `… && node …`), and nothing may outlive npm.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { freePort, getText, waitFor } from '../src/ops/net.js';
import { ROOT } from '../src/ops/paths.js';
import { OpsClient } from '../src/ops/ws-client.js';
import { processAlive } from '@megaphone/testing';

interface NpmRun {
  npm: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

function npmRun(args: string[], env: Record<string, string>): NpmRun {
  const npm = spawn('npm', args, {
    cwd: ROOT,
    // A clean environment, as a supervisor would give it (nothing from the outer `npm test`).
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  npm.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  npm.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => npm.once('exit', (code, signal) => resolve({ code, signal })));
  return { npm, exited, output: () => out.split('\n').slice(-40).join('\n') };
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
}

/**
 * The service under npm: every process below npm goes into `tree` (so the test can clean up even
 * when it fails), and the service must be npm's only child: no shell in between.
 */
function serviceOf(npmPid: number, tree: Set<number>): { pid: number; cmdline: string } {
  const walk = (pid: number): void => {
    for (const c of childrenOf(pid)) {
      tree.add(c);
      walk(c);
    }
  };
  walk(npmPid);
  const children = childrenOf(npmPid);
  assert.deepEqual(children.map(cmdline).map((c) => c.split(' ')[0]), ['node'], `npm's children: ${children.map(cmdline).join(' | ')}`);
  return { pid: children[0]!, cmdline: cmdline(children[0]!) };
}

async function stop(run: NpmRun, tree: Set<number>): Promise<void> {
  for (const pid of tree) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  if (run.npm.exitCode === null && run.npm.signalCode === null) {
    run.npm.kill('SIGKILL');
    await run.exited;
  }
}

async function readyStatus(adminPort: number): Promise<number> {
  return (await getText(`http://127.0.0.1:${adminPort}/readyz`, 1000).catch(() => ({ status: 0 }))).status;
}

describe('npm scripts deliver signals to the service', { timeout: 120_000 }, () => {
  test('SIGTERM to `npm run gateway`: /readyz fails within 300 ms, clients get 1001, npm exits 0, no orphan', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const run = npmRun(['run', 'gateway'], {
      NODE_NAME: 'gw-npm', GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port),
      GATEWAY_ADMIN_HOST: '127.0.0.1', GATEWAY_ADMIN_PORT: String(adminPort), GATEWAY_DRAIN_MS: '1000',
    });
    let service: { pid: number; cmdline: string } | undefined;
    const tree = new Set<number>();
    const clients: OpsClient[] = [];
    try {
      await waitFor('the gateway to be ready', async () => (await readyStatus(adminPort)) === 200, { timeoutMs: 60_000, intervalMs: 50 }).catch((err: Error) => {
        throw new Error(`${err.message}\n${run.output()}`);
      });
      service = serviceOf(run.npm.pid!, tree);
      assert.match(service.cmdline, /^\S*node --max-semi-space-size=4 .*services\/gateway\/bin\/megaphone-gateway\.js$/);
      for (let i = 0; i < 3; i++) {
        const c = new OpsClient(`ws://127.0.0.1:${port}/ws`, { origin: `http://127.0.0.1:${port}` });
        clients.push(c);
        await c.opened;
      }
      const t0 = Date.now();
      run.npm.kill('SIGTERM');
      await waitFor('/readyz to fail', async () => (await readyStatus(adminPort)) !== 200, { timeoutMs: 5000, intervalMs: 5 });
      const failedAfter = Date.now() - t0;
      assert.ok(failedAfter <= 300, `/readyz failed ${failedAfter} ms after SIGTERM`);
      for (const c of clients) assert.equal((await c.waitClosed(5000)).code, 1001);
      assert.deepEqual(await run.exited, { code: 0, signal: null }, run.output());
      assert.equal(processAlive(service.pid), false, `the gateway (pid ${service.pid}) outlived npm`);
    } finally {
      for (const c of clients) c.ws.terminate();
      await stop(run, tree);
    }
  });

  test('SIGTERM to `npm run producer`: the producer stops, npm exits 0, no orphan', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const run = npmRun(['run', 'producer'], {
      NODE_NAME: 'producer-npm', PRODUCER_HOST: '127.0.0.1', PRODUCER_PORT: String(port),
      PRODUCER_ADMIN_HOST: '127.0.0.1', PRODUCER_ADMIN_PORT: String(adminPort),
    });
    let service: { pid: number; cmdline: string } | undefined;
    const tree = new Set<number>();
    try {
      await waitFor('the producer to be ready', async () => (await readyStatus(adminPort)) === 200, { timeoutMs: 60_000, intervalMs: 50 }).catch((err: Error) => {
        throw new Error(`${err.message}\n${run.output()}`);
      });
      service = serviceOf(run.npm.pid!, tree);
      assert.match(service.cmdline, /services\/producer\/bin\/megaphone-producer\.js$/);
      run.npm.kill('SIGTERM');
      assert.deepEqual(await run.exited, { code: 0, signal: null }, run.output());
      assert.match(run.output(), /"msg":"stopped"/);
      assert.equal(processAlive(service.pid), false, `the producer (pid ${service.pid}) outlived npm`);
    } finally {
      await stop(run, tree);
    }
  });

  test('SIGINT to `npm start` (Ctrl-C): gateway and producer stop, npm exits 0, no orphan', async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const run = npmRun(['start'], {
      NODE_NAME: 'standalone-npm',
      GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(ports[0]), GATEWAY_ADMIN_HOST: '127.0.0.1', GATEWAY_ADMIN_PORT: String(ports[1]),
      PRODUCER_HOST: '127.0.0.1', PRODUCER_PORT: String(ports[2]), PRODUCER_ADMIN_HOST: '127.0.0.1', PRODUCER_ADMIN_PORT: String(ports[3]),
      GATEWAY_DRAIN_MS: '500',
    });
    let service: { pid: number; cmdline: string } | undefined;
    const tree = new Set<number>();
    try {
      await waitFor('the gateway to be ready', async () => (await readyStatus(ports[1]!)) === 200, { timeoutMs: 60_000, intervalMs: 50 }).catch((err: Error) => {
        throw new Error(`${err.message}\n${run.output()}`);
      });
      service = serviceOf(run.npm.pid!, tree);
      assert.match(service.cmdline, /services\/standalone\/bin\/megaphone-standalone\.js$/);
      run.npm.kill('SIGINT');
      assert.deepEqual(await run.exited, { code: 0, signal: null }, run.output());
      assert.match(run.output(), /"msg":"stopped"/);
      assert.equal(processAlive(service.pid), false, `the service (pid ${service.pid}) outlived npm`);
    } finally {
      await stop(run, tree);
    }
  });
});
