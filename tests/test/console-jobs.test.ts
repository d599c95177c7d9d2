import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConsoleModule } from '../src/console/load-console-module.js';

// The console's jobs list logic (services/gateway/console/src/jobs.ts): folding lifecycle events.

interface JobState {
  name: string;
  status: string;
  run: string;
  since: number;
  code?: number | null;
  signal?: string | null;
  durationMs?: number | null;
  error?: string;
  runs: number;
}
interface JobsModule {
  JobsModel: new () => { apply(data: unknown, ts: number): boolean; list(): JobState[]; get(name: string): JobState | undefined; clear(): void };
  formatDuration(ms: number): string;
}

let jobs: JobsModule;
before(async () => {
  jobs = await loadConsoleModule<JobsModule>('jobs.ts');
});

const started = (job: string, run: string) => ({ job, run, event: 'started', pid: 1, trigger: 'boot', startedAt: '2026-01-01T00:00:00.000Z' });
const exited = (job: string, run: string, extra: Record<string, unknown>) => ({ job, run, event: 'exited', code: 0, signal: null, durationMs: 12, timedOut: false, ...extra });

test('a started run makes its job running; its exit gives the outcome', () => {
  const m = new jobs.JobsModel();
  assert.equal(m.apply(started('build', 'r1'), 1), true);
  assert.equal(m.get('build')?.status, 'running');
  m.apply(exited('build', 'r1', { outcome: 'success' }), 2);
  assert.deepEqual(
    { status: m.get('build')?.status, code: m.get('build')?.code, durationMs: m.get('build')?.durationMs, since: m.get('build')?.since },
    { status: 'success', code: 0, durationMs: 12, since: 2 },
  );
});

test('outcomes are derived when the event does not name one', () => {
  const m = new jobs.JobsModel();
  m.apply(exited('a', 'r1', { code: 3 }), 1);
  m.apply(exited('b', 'r2', { code: null, signal: 'SIGKILL', timedOut: true }), 1);
  m.apply(exited('c', 'r3', { code: null, signal: 'SIGTERM', stopped: true }), 1);
  m.apply(exited('d', 'r4', { code: null, error: 'spawn ENOENT', outcome: 'failure' }), 1);
  assert.deepEqual(
    m.list().map((j) => `${j.name}:${j.status}`),
    ['a:failure', 'b:timeout', 'c:killed', 'd:failure'],
  );
  assert.equal(m.get('d')?.error, 'spawn ENOENT');
});

test('runs are counted, and a late exit of an older run does not hide the running one', () => {
  const m = new jobs.JobsModel();
  m.apply(started('tick', 'r1'), 1);
  m.apply(started('tick', 'r2'), 2);
  assert.equal(m.apply(exited('tick', 'r1', { outcome: 'killed' }), 3), false);
  assert.deepEqual({ status: m.get('tick')?.status, run: m.get('tick')?.run, runs: m.get('tick')?.runs }, { status: 'running', run: 'r2', runs: 2 });
});

test('anything that is not a lifecycle event is ignored', () => {
  const m = new jobs.JobsModel();
  for (const junk of [null, 42, 'x', {}, { job: 'a' }, { job: 'a', run: 'r', event: 'paused' }, { run: 'r', event: 'started' }, { run: 'r', stream: 'stdout', lines: ['x'] }]) {
    assert.equal(m.apply(junk, 1), false);
  }
  assert.deepEqual(m.list(), []);
});

test('durations read naturally', () => {
  assert.deepEqual([0, 999, 1000, 1540, 59_999, 61_000, 3_600_000 + 5 * 60_000].map(jobs.formatDuration), ['0ms', '999ms', '1.0s', '1.5s', '1m 00s', '1m 01s', '1h 05m']);
});

test('a run announced lost by a new leader (SPEC §12) shows as lost, not as a failure', () => {
  const m = new jobs.JobsModel();
  m.apply(started('tick', 'r1'), 1);
  m.apply(exited('tick', 'r1', { code: null, outcome: 'lost', producer: 'producer-1' }), 2);
  assert.equal(m.get('tick')?.status, 'lost');
});
