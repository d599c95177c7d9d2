import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JobManager } from '../src/jobs/job-manager.js';
import type { JobSpec } from '../src/jobs/jobs-file.js';
import type { Run, RunSummary } from '../src/jobs/run.js';
import { blockedWriting, job, pidAlive, Recorder, silentLogger, waitFor } from './helpers.js';

/** Runs one job once and returns its summary and what it published. */
async function runOnce(spec: JobSpec, during?: (run: Run, rec: Recorder) => Promise<void>): Promise<{ summary: RunSummary; rec: Recorder; run: Run }> {
  const rec = new Recorder();
  const jobs = new JobManager({ jobs: [spec], run: rec.context, logger: silentLogger });
  const r = jobs.startRun(spec.name, 'api');
  assert.ok(r.ok);
  try {
    if (during) await during(r.run, rec);
    const summary = await r.run.ended;
    return { summary, rec, run: r.run };
  } finally {
    await jobs.close(2000);
  }
}

test('shell metacharacters in argv reach the command literally (no shell)', async () => {
  const args = ['$(id);|&', '`whoami`', '*', '$HOME', "'quoted'", 'a > /tmp/nope'];
  const { summary, rec } = await runOnce(job('echo', ['echo', ...args]));
  assert.equal(summary.outcome, 'success');
  assert.deepEqual(rec.lines('echo'), [args.join(' ')]);
});

test("the child's environment is PATH plus the job's env, never the producer's", async () => {
  process.env.MEGAPHONE_TEST_SECRET = 'must-not-leak';
  try {
    const { rec } = await runOnce(job('env', ['env'], { env: { GREETING: 'hello', LANG: 'C.UTF-8' } }));
    assert.deepEqual(rec.lines('env').sort(), ['GREETING=hello', 'LANG=C.UTF-8', 'PATH=/usr/local/bin:/usr/bin:/bin']);
  } finally {
    delete process.env.MEGAPHONE_TEST_SECRET;
  }
});

test('a job may set its own PATH', async () => {
  const { rec } = await runOnce(job('env', ['/usr/bin/env'], { env: { PATH: '/bin' } }));
  assert.deepEqual(rec.lines('env'), ['PATH=/bin']);
});

test('a timeout kills the whole process group, grandchildren included', async () => {
  let pids: number[] = [];
  const { summary, rec } = await runOnce(
    job('slow', ['sh', '-c', 'sleep 1000 & echo $!; sleep 1000'], { timeoutMs: 400 }),
    async (run, r) => {
      const child = Number(await waitFor('grandchild pid', () => r.lines('slow')[0]));
      pids = [run.pid!, child];
      assert.ok(pids.every(pidAlive), 'both processes run before the timeout');
    },
  );
  assert.equal(summary.timedOut, true);
  assert.equal(summary.outcome, 'timeout');
  assert.equal(summary.signal, 'SIGTERM');
  await waitFor('every process of the group gone', () => pids.every((p) => !pidAlive(p)), { timeoutMs: 5000 });
  const exited = rec.on('cmd:slow').find((d) => d.event === 'exited');
  assert.deepEqual({ ...exited, durationMs: 0 }, { run: summary.run, event: 'exited', code: null, signal: 'SIGTERM', durationMs: 0, timedOut: true, outcome: 'timeout' });
});

test('stop() sends SIGTERM to the group, then SIGKILL after the grace when it is ignored', async () => {
  let pids: number[] = [];
  const { summary } = await runOnce(
    // Ignored signals are inherited, so the background sleep ignores SIGTERM too.
    job('stubborn', ['sh', '-c', 'trap "" TERM; sleep 1000 & echo $!; while true; do sleep 0.05; done']),
    async (run, r) => {
      const child = Number(await waitFor('grandchild pid', () => r.lines('stubborn')[0]));
      pids = [run.pid!, child];
      assert.equal(run.stop(), true);
      assert.equal(run.stop(), true, 'stopping twice is harmless while it runs');
    },
  );
  assert.equal(summary.outcome, 'killed');
  assert.equal(summary.stopped, true);
  assert.equal(summary.signal, 'SIGKILL');
  await waitFor('every process of the group gone', () => pids.every((p) => !pidAlive(p)), { timeoutMs: 5000 });
});

test('processes left behind when the leader exits are terminated, and the run ends', async () => {
  let leftover = 0;
  const { summary, rec } = await runOnce(job('daemonize', ['sh', '-c', 'sleep 1000 & echo $!; exit 0']));
  leftover = Number(rec.lines('daemonize')[0]);
  assert.ok(leftover > 0);
  assert.equal(summary.code, 0);
  assert.equal(summary.outcome, 'success');
  await waitFor('the leftover sleep gone', () => !pidAlive(leftover), { timeoutMs: 5000 });
});

test('lifecycle events go to cmd:<job> and, with the job name, to jobs; output comes before exited', async () => {
  const { summary, rec } = await runOnce(job('hello', ['sh', '-c', 'echo out; echo err >&2; exit 3']));
  assert.equal(summary.code, 3);
  assert.equal(summary.outcome, 'failure');
  const cmd = rec.on('cmd:hello');
  assert.equal(cmd[0]!.event, 'started');
  assert.equal(cmd[0]!.run, summary.run);
  assert.equal(cmd[0]!.pid, summary.pid);
  assert.equal(cmd.at(-1)!.event, 'exited');
  const output = cmd.filter((d) => d.stream !== undefined).sort((a, b) => String(a.stream).localeCompare(String(b.stream)));
  assert.deepEqual(output, [
    { run: summary.run, stream: 'stderr', lines: ['err'] },
    { run: summary.run, stream: 'stdout', lines: ['out'] },
  ]);
  assert.deepEqual(rec.lines('hello', summary.run, 'stderr'), ['err']);
  const exited = cmd.at(-1)!;
  assert.equal(exited.code, 3);
  assert.equal(exited.signal, null);
  assert.equal(exited.timedOut, false);
  assert.equal(typeof exited.durationMs, 'number');
  const jobs = rec.on('jobs');
  assert.deepEqual(jobs.map((d) => [d.job, d.event, d.run]), [
    ['hello', 'started', summary.run],
    ['hello', 'exited', summary.run],
  ]);
  assert.deepEqual({ ...jobs[1], job: undefined }, { ...exited, job: undefined });
});

test('CRLF output, a final line without newline and split UTF-8 from a real process', async () => {
  // printf writes the 3-byte € in two separate writes, so the bytes arrive in different chunks.
  const { rec } = await runOnce(job('crlf', ['sh', '-c', "printf 'one\\r\\ntwo \\342\\202'; sleep 0.1; printf '\\254\\r\\nlast'"]));
  assert.deepEqual(rec.lines('crlf'), ['one', 'two €', 'last']);
});

test('maxLineBytes truncates long lines from a real process and flags the publication', async () => {
  const { rec } = await runOnce(job('long', ['sh', '-c', 'printf "%0100d\\nshort\\n" 0'], { maxLineBytes: 16 }));
  const pubs = rec.on('cmd:long').filter((d) => d.stream === 'stdout');
  assert.deepEqual(pubs.flatMap((d) => d.lines as string[]), ['0'.repeat(16), 'short']);
  assert.equal(pubs[0]!.truncated, true);
});

test('a command that cannot be started reports started then exited with the error', async () => {
  const { summary, rec } = await runOnce(job('missing', ['/nonexistent/megaphone-command']));
  assert.equal(summary.outcome, 'failure');
  assert.match(summary.error ?? '', /ENOENT/);
  assert.deepEqual(rec.on('jobs').map((d) => d.event), ['started', 'exited']);
  assert.match(String(rec.on('jobs')[1]!.error), /ENOENT/);
});

test('run ids are unique across many runs', async () => {
  const rec = new Recorder();
  const jobs = new JobManager({ jobs: [job('t', ['true'])], run: rec.context, logger: silentLogger });
  const ids = new Set<string>();
  try {
    for (let i = 0; i < 20; i++) {
      const r = jobs.startRun('t', 'api');
      assert.ok(r.ok);
      ids.add(r.run.id);
      await r.run.ended;
    }
  } finally {
    await jobs.close(1000);
  }
  assert.equal(ids.size, 20);
});

test('while the outbox is full the run stops reading: the command blocks on its pipe, then resumes', async () => {
  const rec = new Recorder();
  rec.full = true;
  const spec = job('flood', ['sh', '-c', 'i=0; while [ $i -lt 5000 ]; do i=$((i+1)); echo "line $i of a long enough output to fill the pipe quickly"; done']);
  const jobs = new JobManager({ jobs: [spec], run: rec.context, logger: silentLogger });
  try {
    const r = jobs.startRun('flood', 'api');
    assert.ok(r.ok);
    await waitFor('first output', () => rec.lines('flood').length > 0);
    await waitFor('the command to block writing its pipe', () => blockedWriting(r.run.pid));
    const seen = rec.lines('flood').length;
    assert.ok(seen < 5000, `reading paused after the first batch (saw ${seen})`);
    assert.equal(r.run.running, true, 'the command is blocked, not finished');
    rec.drain();
    const summary = await r.run.ended;
    assert.equal(summary.outcome, 'success');
    const lines = rec.lines('flood');
    assert.equal(lines.length, 5000);
    lines.forEach((l, i) => assert.ok(l.startsWith(`line ${i + 1} `), l));
  } finally {
    await jobs.close(1000);
  }
});

test('a process that left the group (setsid) cannot keep a run open: its pipes are closed after the grace', async () => {
  let escaped = 0;
  try {
    const { summary, rec } = await runOnce(job('escape', ['sh', '-c', "setsid sh -c 'echo $$; exec sleep 1000' & sleep 0.2; echo leader done"]));
    escaped = Number(rec.lines('escape').find((l) => /^\d+$/.test(l)));
    assert.ok(escaped > 0);
    assert.equal(summary.code, 0);
    assert.ok(rec.lines('escape').includes('leader done'));
    assert.equal(rec.on('jobs').at(-1)!.event, 'exited');
  } finally {
    if (escaped > 0 && pidAlive(escaped)) process.kill(escaped, 'SIGKILL');
  }
});
