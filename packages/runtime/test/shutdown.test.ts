import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const RUNTIME = new URL('../src/index.js', import.meta.url).href;

/**
 * A process whose stop takes `stopMs` (never, when null) under `handleSignals` with `deadlineMs`:
 * it prints "ready", is sent SIGTERM, and its exit code and log lines are returned.
 */
async function signalled(stopMs: number | null, deadlineMs: number): Promise<{ code: number | null; lines: string[]; ms: number }> {
  const script = `
    import { createLogger, handleSignals } from ${JSON.stringify(RUNTIME)};
    const logger = createLogger({ level: 'info', service: 'test', node: 'n' });
    handleSignals(() => new Promise((resolve) => { if (${stopMs} !== null) setTimeout(resolve, ${stopMs ?? 0}); }), logger, { deadlineMs: ${deadlineMs} });
    setInterval(() => undefined, 1000); // something to keep it alive, as a server would
    console.log('ready');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('ready')) resolve();
    });
  });
  const t0 = Date.now();
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, lines: out.split('\n').filter((l) => l.startsWith('{')), ms: Date.now() - t0 };
}

test('a stop that finishes exits 0 before the deadline', async () => {
  const r = await signalled(50, 10_000);
  assert.equal(r.code, 0);
  assert.ok(r.lines.some((l) => l.includes('"msg":"stopped"')), r.lines.join('\n'));
});

test('a stop that never finishes is cut off at the deadline with exit code 1 and says so', async () => {
  const r = await signalled(null, 300);
  assert.equal(r.code, 1);
  assert.ok(r.lines.some((l) => l.includes('shutdown did not finish within its deadline') && l.includes('"deadlineMs":300')), r.lines.join('\n'));
  assert.ok(r.ms >= 250, `exited after ${r.ms} ms, before its deadline`);
});
