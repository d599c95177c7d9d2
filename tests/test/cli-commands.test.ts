import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { jwtVerify } from 'jose';
import { ROOT, Standalone, baseEnv, runCli, spawnCli } from '../src/cli/harness.js';
import { waitFor } from '@megaphone/testing';

// The built `megaphone` command as a user runs it, against `npm start` (the standalone service, as
// its own process on free ports) with a jobs file of this test's own.

const JOBS = `
jobs:
  - name: exit3
    command: ["sh", "-c", "echo 'to stdout'; sleep 0.2; printf '\\\\033[31mred\\\\033[0m on stderr\\\\n' >&2; exit 3"]
    startOnBoot: false
  - name: sleepy
    command: ["sleep", "30"]
    timeout: 300ms
    startOnBoot: false
  - name: forever
    command: ["sleep", "60"]
    startOnBoot: false
  - name: hello
    description: says hello
    command: ["echo", "hello"]
    startOnBoot: false
`;

let svc: Standalone;
let env: Record<string, string>;

before(async () => {
  svc = await Standalone.start(JOBS, { PRODUCER_UPTIME_INTERVAL_MS: '100', PRESENCE_INTERVAL_MS: '200' });
  env = svc.cliEnv;
});
after(async () => {
  await svc?.close();
});

describe('tail', () => {
  test('--count stops after N publications (exit 0); --json prints each with its position', async () => {
    const r = await runCli(['tail', 'uptime', '--count', '3', '--json'], { env });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { channel: string; epoch: string; offset: number; ts: number; data: { uptimeSeconds: number } });
    assert.equal(lines.length, 3);
    for (const l of lines) {
      assert.equal(l.channel, 'uptime');
      assert.equal(typeof l.epoch, 'string');
      assert.equal(typeof l.ts, 'number');
      assert.equal(typeof l.data.uptimeSeconds, 'number');
    }
    assert.ok(lines[0]!.offset < lines[1]!.offset && lines[1]!.offset < lines[2]!.offset);
  });

  test('without --json a channel prints its data as one JSON line each; --history replays; --since resumes after a position', async () => {
    const first = await svc.publish('notes-a', { text: 'one' });
    await svc.publish('notes-a', { text: 'two' });
    await svc.publish('notes-a', { text: 'three' });
    const history = await runCli(['tail', 'notes-a', '--history', '2', '--count', '2'], { env });
    assert.equal(history.code, 0, history.stderr);
    assert.equal(history.stdout, '{"text":"two"}\n{"text":"three"}\n');
    const since = await runCli(['tail', 'notes-a', '--since', `${first.epoch}:${first.offset}`, '--count', '2', '--json'], { env });
    assert.equal(since.code, 0, since.stderr);
    assert.deepEqual(since.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { offset: number; data: unknown }).data), [{ text: 'two' }, { text: 'three' }]);
    assert.equal(since.stderr, '');
  });

  test('a cmd: channel prints its lines as plain text, stderr lines on stderr, colours stripped off a terminal', async () => {
    const tail = spawnCli(['tail', 'cmd:exit3', '--count', '4'], env);
    await waitSubscribed(tail);
    const run = await runCli(['run', 'exit3'], { env });
    assert.equal(run.code, 0, run.stderr);
    const r = await tail.result(20_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'to stdout\n');
    const runId = run.stdout.trim();
    assert.equal(r.stderr, `── run ${runId} started\nred on stderr\n── run ${runId} exited with code 3 after ${/after (\S+)\n$/.exec(r.stderr)?.[1]}\n`);
    assert.doesNotMatch(r.stderr, /\u001b/);
  });

  test('off a terminal, a gateway that cannot be reached is said once on stderr, and tail keeps trying', async () => {
    const tail = spawnCli(['tail', 'uptime', '--gateway', 'ws://127.0.0.1:1/ws'], env);
    await waitFor('the warning', () => tail.stderr().includes('\n'), { timeoutMs: 15_000 });
    assert.equal(tail.stderr(), 'megaphone: cannot connect to ws://127.0.0.1:1/ws (closed 1006); retrying until it answers (--gateway sets the address)\n');
    assert.equal(tail.proc.exitCode, null, 'still trying');
    tail.proc.kill('SIGINT');
    const r = await tail.result(10_000);
    assert.equal(r.code, 0);
    assert.equal(r.stderr.split('\n').length, 2, 'said once');
  });

  test('a closed stdout (| head) ends tail quietly: exit 0, no stack trace', async () => {
    const tail = spawnCli(['tail', 'uptime'], env);
    await tail.waitStdout((l) => l.length >= 1, 'a first line');
    tail.proc.stdout!.destroy();
    const r = await tail.result(10_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  test('through a real pipe into head', () => {
    const r = spawnSync('bash', ['-c', `node ${JSON.stringify(`${ROOT}packages/cli/bin/megaphone.js`)} tail uptime 2>/tmp/megaphone-head-$$.err | head -n 2; code=\${PIPESTATUS[0]}; cat /tmp/megaphone-head-$$.err >&2; rm -f /tmp/megaphone-head-$$.err; exit $code`], {
      env: baseEnv(env),
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 2);
    assert.equal(r.stderr, '');
  });
});

async function waitSubscribed(p: ReturnType<typeof spawnCli>): Promise<void> {
  // The subscription is live once the gateway counts it: watch its metrics rather than sleeping.
  await waitFor('the tail subscribed', async () => {
    if (p.proc.exitCode !== null) throw new Error(`tail exited: ${p.stderr()}`);
    const text = await (await fetch(`${svc.cliEnv.MEGAPHONE_ADMIN}/metrics`)).text();
    const m = /^megaphone_subscriptions(?:\{[^}]*\})? (\d+)/m.exec(text);
    return m !== null && Number(m[1]) > 0;
  }, { timeoutMs: 15_000, intervalMs: 50 });
}

describe('publish', () => {
  test('a JSON argument is one publication; its position is printed', async () => {
    const r = await runCli(['publish', 'notes-b', '{"text":"deployed","n":1}'], { env });
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(r.stdout) as { channel: string; epoch: string; offset: number };
    assert.equal(p.channel, 'notes-b');
    assert.equal(p.offset, 1);
    const back = await runCli(['tail', 'notes-b', '--history', '1', '--count', '1'], { env });
    assert.equal(back.stdout, '{"text":"deployed","n":1}\n');
  });

  test('--lines publishes {"line"} per line of standard input, in order', async () => {
    const r = await runCli(['publish', 'notes-c', '--lines'], { env, input: 'first\nsecond\r\n\nlast without newline' });
    assert.equal(r.code, 0, r.stderr);
    const positions = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { offset: number });
    assert.deepEqual(positions.map((p) => p.offset), [1, 2, 3, 4]);
    const back = await runCli(['tail', 'notes-c', '--history', '4', '--count', '4'], { env });
    assert.equal(back.stdout, '{"line":"first"}\n{"line":"second"}\n{"line":""}\n{"line":"last without newline"}\n');
  });

  test('standard input without --lines is one JSON document', async () => {
    const r = await runCli(['publish', 'notes-d'], { env, input: '{"from":"stdin"}\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { offset: number }).offset, 1);
  });

  test('a producer that is not there is a failure (exit 1) that names the address', async () => {
    const r = await runCli(['publish', 'x', '{}', '--api', 'http://127.0.0.1:1'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^megaphone publish: cannot reach http:\/\/127\.0\.0\.1:1\/v1\/publish .*--api/);
  });
});

describe('jobs and run', () => {
  test('jobs prints a table of the jobs', async () => {
    const r = await runCli(['jobs'], { env });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^JOB +STATE +LAST +EXIT +STARTED +TOOK +NEXT +DESCRIPTION$/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/ +/)[0]), ['exit3', 'sleepy', 'forever', 'hello']);
    assert.match(r.stdout, /hello +idle .*says hello/);
    const json = await runCli(['jobs', '--json'], { env });
    assert.deepEqual((JSON.parse(json.stdout) as { jobs: { name: string }[] }).jobs.map((j) => j.name), ['exit3', 'sleepy', 'forever', 'hello']);
  });

  test('run prints the run id; the producer knows it', async () => {
    const r = await runCli(['run', 'hello'], { env });
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    const res = await fetch(`${svc.api}/v1/runs/${id}`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { job: string }).job, 'hello');
  });

  test('run --follow streams stdout and stderr apart and exits with the run\'s own code (3)', async () => {
    const r = await runCli(['run', 'exit3', '--follow'], { env });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'to stdout\n');
    assert.equal(r.stderr, 'red on stderr\n');
  });

  test('run --follow of a run that times out exits 1 with the reason on stderr', async () => {
    const r = await runCli(['run', 'sleepy', '--follow'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^megaphone: run \S+ timed out \(SIGTERM\)\n$/);
  });

  test('run --follow of a run an operator stops exits 1 with the reason on stderr', async () => {
    const follow = spawnCli(['run', 'forever', '--follow'], env);
    const runId = await waitFor('the run to start', async () => {
      const { jobs } = (await (await fetch(`${svc.api}/v1/jobs`)).json()) as { jobs: { name: string; run: string | null }[] };
      return jobs.find((j) => j.name === 'forever')?.run ?? undefined;
    });
    assert.equal((await fetch(`${svc.api}/v1/runs/${runId}`, { method: 'DELETE' })).status, 202);
    const r = await follow.result(15_000);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `megaphone: run ${runId} was stopped (SIGTERM)\n`);
  });

  test('an unknown job is a failure (exit 1) with the producer\'s message', async () => {
    const r = await runCli(['run', 'nope', '--follow'], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /404 not_found: no job named "nope"/);
  });
});

describe('usage errors exit 2 with one line', () => {
  for (const [args, message] of [
    [['tail', 'uptime', '--bogus'], 'megaphone tail: unknown option --bogus (see megaphone tail --help)'],
    [['tail'], 'megaphone tail: missing <channel> (e.g. megaphone tail uptime) (see megaphone tail --help)'],
    [['tail', 'uptime', '--count'], 'megaphone tail: option --count needs a value (see megaphone tail --help)'],
    [['tail', 'a', 'b', '--since', 'e:1'], 'megaphone tail: --since needs exactly one channel (positions are per channel) (see megaphone tail --help)'],
    [['publish', 'notes', '{bad'], /^megaphone publish: the JSON argument is not JSON: /],
    [['run'], 'megaphone run: missing <job> (megaphone jobs lists them) (see megaphone run --help)'],
    [['token', '--sub', 'x'], 'megaphone token: set AUTH_JWT_SECRET (or AUTH_JWT_SECRET_FILE) to the key the services verify with (see megaphone token --help)'],
    [['top', '--sort', 'speed'], 'megaphone top: --sort must be queue, lag or age, not "speed" (see megaphone top --help)'],
    [['jobs', '--api', 'ftp://x'], 'megaphone jobs: --api: "ftp://x" must be an http:// or https:// URL (see megaphone jobs --help)'],
    [['frobnicate'], 'megaphone: unknown command "frobnicate" (commands: tail, publish, jobs, run, token, top; see megaphone --help)'],
  ] as const) {
    test(args.join(' '), async () => {
      const r = await runCli(args, { env });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
      if (typeof message === 'string') assert.equal(r.stderr, `${message}\n`);
      else assert.match(r.stderr, message);
    });
  }

  test('--help on every command says how to use it (exit 0)', async () => {
    for (const cmd of ['tail', 'publish', 'jobs', 'run', 'token', 'top']) {
      const r = await runCli([cmd, '--help'], { env });
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`^Usage: megaphone ${cmd}`));
    }
    const main = await runCli(['--help'], { env });
    assert.match(main.stdout, /^Usage: megaphone <command>/);
    assert.match(main.stdout, /megaphone run flaky --follow/);
  });
});

test('npm run token mints a token the services can verify, with the claims asked for', () => {
  const secret = 'cli-test-secret-of-at-least-32-bytes!!';
  const r = spawnSync('npm', ['run', '-s', 'token', '--', '--sub', 'alice', '--channels', 'cmd:*,uptime', '--ttl', '1h'], {
    cwd: ROOT,
    env: baseEnv({ AUTH_JWT_SECRET: secret }),
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return jwtVerify(r.stdout.trim(), new TextEncoder().encode(secret), { algorithms: ['HS256'] }).then(({ payload }) => {
    assert.equal(payload.sub, 'alice');
    assert.deepEqual(payload.channels, ['cmd:*', 'uptime']);
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 3600);
  });
});

test('npx megaphone runs the workspace bin from the repository root', () => {
  const r = spawnSync('npx', ['--no-install', 'megaphone', '--version'], { cwd: ROOT, env: baseEnv(), encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '0.1.0\n');
});

test('top --once against the gateway\'s operator API shows this tail\'s connection and channel', async () => {
  const tail = spawnCli(['tail', 'uptime'], env);
  await tail.waitStdout((l) => l.length > 0, 'the tail running');
  // Channel counts are gathered every PRESENCE_INTERVAL_MS: ask until the tail's subscription is in.
  const r = await waitFor('top to count the tail', async () => {
    const out = await runCli(['top', '--once'], { env });
    assert.equal(out.code, 0, out.stderr);
    return /^uptime +1 +\S+:1$/m.test(out.stdout) ? out : undefined;
  }, { timeoutMs: 15_000, intervalMs: 200 });
  tail.proc.kill('SIGINT');
  await tail.result(10_000);
  assert.match(r.stdout, /^ID +SUB +REMOTE +VIA +AGE +QUEUE +STATE +LAG +CHANNELS$/m);
  assert.match(r.stdout, /^\S+ +- +127\.0\.0\.1 +ws +\S+ +0 B +live +\d+ +uptime$/m);
});

test('a tail an operator disconnects (4403) stops with exit 1 and says so, without reconnecting', async () => {
  const tail = spawnCli(['tail', 'uptime'], env);
  await tail.waitStdout((l) => l.length > 0, 'the tail running');
  const admin = svc.cliEnv.MEGAPHONE_ADMIN;
  // The newest connection is this tail's (an earlier test's may still be closing).
  const connections = (await (await fetch(`${admin}/v1/connections?sort=age`)).json()) as { id: string; connectedAt: number }[];
  const newest = connections.sort((a, b) => b.connectedAt - a.connectedAt)[0]!;
  assert.equal((await fetch(`${admin}/v1/connections/${newest.id}`, { method: 'DELETE' })).status, 200);
  const r = await tail.result(10_000);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^megaphone: .*disconnected by an operator.*\n$/);
});
