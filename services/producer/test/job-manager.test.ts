import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobManager, restartDelayMs, type RestartBackoff } from '../src/jobs/job-manager.js';
import type { JobSpec } from '../src/jobs/jobs-file.js';
import { job, pidAlive, Recorder, silentLogger, waitFor } from './helpers.js';

const FAST: RestartBackoff = { initialMs: 50, maxMs: 200, healthyAfterMs: 60_000 };

function manager(specs: JobSpec[], backoff = FAST): { jobs: JobManager; rec: Recorder } {
  const rec = new Recorder();
  return { jobs: new JobManager({ jobs: specs, run: rec.context, logger: silentLogger, backoff }), rec };
}

/** Start times (ms) and triggers of the runs of a job, from its `started` events. */
function starts(rec: Recorder, name: string): { at: number; trigger: string }[] {
  return rec.on('jobs').filter((d) => d.job === name && d.event === 'started').map((d) => ({ at: Date.parse(String(d.startedAt)), trigger: String(d.trigger) }));
}

test('restart delays double per attempt from initialMs up to maxMs, with equal jitter (half to all of it)', () => {
  const b: RestartBackoff = { initialMs: 1000, maxMs: 60_000, healthyAfterMs: 30_000 };
  const top = (): number => 0.999999;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 100].map((a) => restartDelayMs(b, a, top)), [999, 1999, 3999, 7999, 15_999, 31_999, 59_999, 59_999, 59_999]);
  assert.equal(restartDelayMs(b, 1, () => 0), 500);
  assert.equal(restartDelayMs(b, 1, () => 0.5), 750);
  for (let i = 0; i < 100; i++) {
    const d = restartDelayMs(b, 3);
    assert.ok(d >= 2000 && d < 4000, String(d));
  }
});

test('restart: on-failure restarts a failing command, counting attempts for the backoff', async () => {
  const { jobs, rec } = manager([job('fail', ['sh', '-c', 'exit 1'], { restart: 'on-failure' })]);
  try {
    jobs.startRun('fail', 'api');
    await waitFor('4 runs', () => starts(rec, 'fail').length >= 4);
  } finally {
    await jobs.close(1000);
  }
  const started = rec.on('jobs').filter((d) => d.event === 'started');
  assert.deepEqual(started.slice(0, 4).map((d) => [d.trigger, d.attempt]), [['api', undefined], ['restart', 1], ['restart', 2], ['restart', 3]]);
});

test('restart: the backoff delays the next run (no restart before the delay)', async () => {
  const { jobs, rec } = manager([job('fail', ['false'], { restart: 'on-failure' })], { initialMs: 60_000, maxMs: 60_000, healthyAfterMs: 60_000 });
  try {
    jobs.startRun('fail', 'api');
    // The restart is scheduled when the run ends: its state says when, and nothing runs before.
    const status = await waitFor('the restart to be scheduled', () => jobs.list().find((j) => j.state === 'restarting'));
    assert.equal(starts(rec, 'fail').length, 1);
    const wait = Date.parse(status.nextRunAt!) - Date.now();
    assert.ok(wait > 30_000 && wait <= 72_000, `next run in ${wait} ms`);
    // A manual run cancels the pending restart.
    assert.ok(jobs.startRun('fail', 'api').ok);
  } finally {
    await jobs.close(1000);
  }
});

test('restart: on-failure does not restart a successful run; never does not restart at all', async () => {
  const { jobs, rec } = manager([job('ok', ['true'], { restart: 'on-failure' }), job('once', ['false'], { restart: 'never' })]);
  try {
    jobs.startRun('ok', 'api');
    jobs.startRun('once', 'api');
    await waitFor('both ended', () => rec.on('jobs').filter((d) => d.event === 'exited').length === 2);
    // Whether to restart is decided when a run ends: both are idle, so no restart is pending.
    await waitFor('both idle', () => jobs.list().every((j) => j.state === 'idle'));
    assert.equal(starts(rec, 'ok').length, 1);
    assert.equal(starts(rec, 'once').length, 1);
    assert.deepEqual(jobs.list().map((j) => [j.name, j.state, j.lastRun?.outcome]), [
      ['ok', 'idle', 'success'],
      ['once', 'idle', 'failure'],
    ]);
  } finally {
    await jobs.close(1000);
  }
});

test('restart: always restarts after success too, and a healthy run resets the backoff', async () => {
  const { jobs, rec } = manager([job('loop', ['true'], { restart: 'always' })], { initialMs: 30, maxMs: 10_000, healthyAfterMs: 0 });
  try {
    jobs.startRun('loop', 'api');
    await waitFor('5 runs', () => starts(rec, 'loop').length >= 5);
  } finally {
    await jobs.close(1000);
  }
  // Every run counts as healthy (healthyAfterMs 0), so each restart is attempt 1 again.
  const started = rec.on('jobs').filter((d) => d.event === 'started');
  assert.deepEqual(started.slice(1, 5).map((d) => [d.trigger, d.attempt]), Array(4).fill(['restart', 1]));
});

test('a stopped run is not restarted, whatever the policy', async () => {
  const { jobs, rec } = manager([job('endless', ['sleep', '1000'], { restart: 'always' })]);
  try {
    const r = jobs.startRun('endless', 'api');
    assert.ok(r.ok);
    await waitFor('started', () => r.run.pid);
    assert.equal(jobs.stopRun(r.run.id), 'stopping');
    const summary = await r.run.ended;
    assert.equal(summary.outcome, 'killed');
    // A stopped run is not restarted: no restart is pending once it has ended.
    await waitFor('the job to be idle', () => jobs.list()[0]!.state === 'idle');
    assert.equal(starts(rec, 'endless').length, 1);
    assert.equal(jobs.stopRun(r.run.id), 'finished');
    assert.equal(jobs.stopRun('nope'), 'not_found');
  } finally {
    await jobs.close(1000);
  }
});

test('one run per job at a time; unknown jobs are refused', async () => {
  const { jobs } = manager([job('busy', ['sleep', '1000'])]);
  try {
    const first = jobs.startRun('busy', 'api');
    assert.ok(first.ok);
    assert.deepEqual(jobs.startRun('busy', 'api'), { ok: false, reason: 'running' });
    assert.deepEqual(jobs.startRun('nope', 'api'), { ok: false, reason: 'not_found' });
    const status = jobs.list()[0]!;
    assert.equal(status.state, 'running');
    assert.equal(status.run, first.run.id);
  } finally {
    await jobs.close(2000);
  }
});

test('every: runs on schedule, skipping ticks while the previous run is still going', async () => {
  const { jobs, rec } = manager([job('tick', ['true'], { everyMs: 100 }), job('slow', ['sleep', '0.35'], { everyMs: 100 })]);
  jobs.start();
  try {
    await waitFor('4 scheduled runs', () => starts(rec, 'tick').length >= 4);
    await waitFor('2 slow runs', () => starts(rec, 'slow').length >= 2, { timeoutMs: 5000 });
  } finally {
    await jobs.close(1000);
  }
  assert.ok(starts(rec, 'tick').every((x) => x.trigger === 'schedule'), 'startOnBoot false: only the schedule starts it');
  // The slow job's runs never overlap: each started after the previous exited.
  const events = rec.on('jobs').filter((d) => d.job === 'slow').map((d) => d.event);
  for (let i = 0; i < events.length; i++) assert.equal(events[i], i % 2 === 0 ? 'started' : 'exited', events.join(','));
});

test('startOnBoot runs a job when the manager starts', async () => {
  const { jobs, rec } = manager([job('boot', ['true'], { startOnBoot: true }), job('manual', ['true'])]);
  jobs.start();
  try {
    await waitFor('boot run', () => starts(rec, 'boot').length === 1);
    assert.equal(starts(rec, 'boot')[0]!.trigger, 'boot');
    // start() starts the boot jobs synchronously; the manual one has neither run nor a schedule.
    assert.equal(starts(rec, 'manual').length, 0);
    assert.deepEqual(jobs.list().filter((j) => j.name === 'manual').map((j) => [j.state, j.lastRun, j.nextRunAt]), [['idle', null, null]]);
  } finally {
    await jobs.close(1000);
  }
});

test('close() stops schedules and terminates every running process group', async () => {
  const { jobs, rec } = manager([job('a', ['sh', '-c', 'sleep 1000 & echo $!; wait'], { startOnBoot: true, restart: 'always' })]);
  jobs.start();
  const pid = Number(await waitFor('grandchild pid', () => rec.lines('a')[0]));
  const leader = jobs.list()[0]!.lastRun!.pid!;
  await jobs.close(2000);
  await waitFor('processes gone', () => !pidAlive(pid) && !pidAlive(leader), { timeoutMs: 5000 });
  assert.deepEqual(jobs.startRun('a', 'api'), { ok: false, reason: 'closed' });
  assert.equal(starts(rec, 'a').length, 1, 'no restart after close');
  assert.equal(jobs.list()[0]!.state, 'idle', 'no restart pending after close');
});
