import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@megaphone/testing';
import { TestClient, httpGet } from './helpers.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

interface Running {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  port: number;
  adminPort: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function runGateway(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', NODE_NAME: 'gw-main', GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: '0', GATEWAY_ADMIN_HOST: '127.0.0.1', GATEWAY_ADMIN_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const logs: Array<Record<string, unknown>> = [];
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === 'gateway listening') resolve(entry);
    });
    void exited.then(() => reject(new Error('gateway exited before listening')));
  });
  const entry = await listening;
  return { child, logs, port: entry.port as number, adminPort: entry.adminPort as number, exited };
}

function stop(r: Running): void {
  if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
}

test('SIGTERM drains: readiness fails, clients get 1001, the process exits 0 within the drain window', async () => {
  const r = await runGateway({ GATEWAY_DRAIN_MS: '2000' });
  try {
    assert.equal(r.logs.find((l) => l.msg === 'gateway listening')?.level, 30);
    const clients = await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(`ws://127.0.0.1:${r.port}/ws`)));
    const start = Date.now();
    r.child.kill('SIGTERM');
    await waitFor('/readyz 503', async () => (await httpGet(`http://127.0.0.1:${r.adminPort}/readyz`)).status === 503);
    assert.ok(Date.now() - start < 300, `readiness failed ${Date.now() - start} ms after SIGTERM`);
    for (const c of clients) assert.equal((await c.closed).code, 1001);
    const exit = await r.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    const took = Date.now() - start;
    assert.ok(took < 3500, `exits soon after the 2 s drain window (took ${took} ms)`);
    const msgs = r.logs.map((l) => l.msg);
    for (const m of ['shutting down', 'draining', 'gateway stopped', 'stopped']) assert.ok(msgs.includes(m), m);
  } finally {
    stop(r);
  }
});

test('a second signal exits at once', async () => {
  const r = await runGateway({ GATEWAY_DRAIN_MS: '30000' });
  try {
    // Three clients over a 30 s drain: the second is not due for ~15 s.
    const clients = await Promise.all(Array.from({ length: 3 }, () => TestClient.connect(`ws://127.0.0.1:${r.port}/ws`)));
    const start = Date.now();
    r.child.kill('SIGTERM');
    await waitFor('the drain to start', () => r.logs.some((l) => l.msg === 'draining'));
    assert.equal(r.child.exitCode, null, 'still draining');
    r.child.kill('SIGTERM');
    const exit = await r.exited;
    assert.notEqual(exit.code, 0);
    assert.ok(Date.now() - start < 5000);
    for (const c of clients) await c.close();
  } finally {
    stop(r);
  }
});

test('an invalid configuration exits 2 listing every problem (no stack trace)', async () => {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', GATEWAY_PORT: 'x', GATEWAY_DRAIN_MS: '-5', GATEWAY_ALLOWED_ORIGINS: 'nope', REDIS_URL: 'redis://host:99999' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 2);
  for (const name of ['GATEWAY_PORT', 'GATEWAY_DRAIN_MS', 'GATEWAY_ALLOWED_ORIGINS', 'REDIS_URL']) assert.match(stderr, new RegExp(name));
  assert.doesNotMatch(stderr, /TypeError|\n\s+at /);
});
