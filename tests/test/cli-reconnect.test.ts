import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsoleStack } from '../src/console/stack.js';
import { Standalone, spawnCli } from '../src/cli/harness.js';
import { waitFor } from '@megaphone/testing';

// `megaphone tail` keeps following while its gateway goes away and comes back: nothing twice, and
// no hole without a line on stderr saying so.

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Line {
  epoch: string;
  offset: number;
  data: { n: number };
}
const parse = (lines: string[]): Line[] => lines.map((l) => JSON.parse(l) as Line);

test('a gateway restart on the same port: tail resumes with every publication once, no gap', async () => {
  // The gateway restarts while the bus (and its history) lives on, as with Redis behind a fleet.
  const stack = await ConsoleStack.start();
  cleanups.push(() => stack.close());
  const tail = spawnCli(['tail', 'cmd:resume', '--json'], { MEGAPHONE_GATEWAY: `ws://127.0.0.1:${stack.port}/ws` });
  let n = 0;
  const publish = async (count: number) => {
    for (let i = 0; i < count; i++) await stack.bus.publish('cmd:resume', JSON.stringify({ n: ++n }));
  };
  const seen = (k: number) => tail.waitStdout((l) => parse(l).some((x) => x.data.n === k), `n=${k}`);
  // The first publication arrives only once the tail is subscribed; keep publishing until it does.
  await waitFor('the tail to receive', async () => {
    await publish(1);
    return tail.stdout().length > 0;
  }, { timeoutMs: 15_000, intervalMs: 100 });
  await publish(20);
  await seen(n);

  await stack.stopGateway();
  await publish(20); // published while the tail has no gateway
  await stack.startGateway();
  await publish(20);
  await seen(n);
  tail.proc.kill('SIGINT');

  const r = await tail.result(10_000);
  assert.equal(r.code, 0, r.stderr);
  const got = parse(r.stdout.trim().split('\n'));
  const firstN = got[0]!.data.n;
  assert.deepEqual(got.map((l) => l.data.n), Array.from({ length: n - firstN + 1 }, (_, i) => firstN + i), 'every publication once, in order');
  assert.deepEqual(got.map((l) => l.offset), got.map((l) => l.data.n), 'offsets are the publication order');
  assert.equal(new Set(got.map((l) => l.epoch)).size, 1);
  assert.equal(r.stderr, '', 'no gap was reported because there was none');
});

test('the whole service restarts (in-memory history lost): tail says so on stderr and goes on with the new stream', async () => {
  const svc = await Standalone.start('jobs: []\n');
  cleanups.push(() => svc.close());
  const tail = spawnCli(['tail', 'notes', '--json'], svc.cliEnv);
  await waitFor('the tail to receive', async () => {
    await svc.publish('notes', { n: 0 });
    return tail.stdout().length > 0;
  }, { timeoutMs: 15_000, intervalMs: 100 });
  const before = await svc.publish('notes', { n: 1 });
  await tail.waitStdout((l) => parse(l).some((x) => x.data.n === 1), 'n=1');

  await svc.stopProcess();
  await svc.startProcess();
  // Publish on the new epoch until the tail, reconnected, shows one.
  let after = before;
  const lines = await waitFor('a publication of the new epoch', async () => {
    after = await svc.publish('notes', { n: 2 });
    const got = parse(tail.stdout().trim().split('\n'));
    return got.some((x) => x.epoch === after.epoch) ? got : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 });
  tail.proc.kill('SIGINT');
  const r = await tail.result(10_000);
  assert.equal(r.code, 0, r.stderr);

  assert.notEqual(after.epoch, before.epoch);
  const old = lines.filter((x) => x.epoch === before.epoch).map((x) => x.offset);
  assert.deepEqual(old, [...new Set(old)].sort((a, b) => a - b), 'no duplicate in the old stream');
  const gapLines = r.stderr.trim().split('\n');
  assert.equal(gapLines.length, 1, r.stderr);
  assert.match(gapLines[0]!, new RegExp(`^megaphone: gap on notes: the channel restarted \\(epoch ${before.epoch} → ${after.epoch}\\); what came after offset ${before.offset} is lost, continuing after ${after.epoch}:\\d+$`));
  const fresh = lines.filter((x) => x.epoch === after.epoch).map((x) => x.offset);
  assert.deepEqual(fresh, [...new Set(fresh)].sort((a, b) => a - b), 'no duplicate in the new stream');
});
