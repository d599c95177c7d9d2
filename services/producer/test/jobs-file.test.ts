import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@megaphone/runtime';
import { DEFAULT_JOBS_FILE, PRODUCER_ENV_NAMES, readProducerConfig } from '../src/config.js';
import { formatDuration, parseDuration } from '../src/jobs/duration.js';
import { loadJobsFile, parseJobsFile } from '../src/jobs/jobs-file.js';
import { tempDir, writeJobsFile } from './helpers.js';

test('durations accept ms, s, m, h and combinations, and refuse bare numbers', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('1.5s'), 1500);
  for (const bad of ['30', '', 's', '5 m', '-1s', '1d', '1s2']) assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(formatDuration(90_000), '1m30s');
  assert.equal(formatDuration(500), '500ms');
});

test('a valid jobs file gives typed jobs with defaults', () => {
  const { jobs, problems } = parseJobsFile(
    `jobs:
  - name: disk
    command: ["df", "-h"]
    every: 30s
    timeout: 1m
    restart: on-failure
    cwd: /tmp
    env: { LANG: C.UTF-8, N: 3 }
    maxLineBytes: 1024
  - name: tail
    command: [tail, -f, /dev/null]
    startOnBoot: false
`,
    '/etc/jobs.yaml',
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(jobs[0], {
    name: 'disk',
    command: ['df', '-h'],
    everyMs: 30_000,
    timeoutMs: 60_000,
    restart: 'on-failure',
    cwd: '/tmp',
    env: { LANG: 'C.UTF-8', N: '3' },
    maxLineBytes: 1024,
    startOnBoot: true,
  });
  assert.deepEqual(jobs[1], { name: 'tail', command: ['tail', '-f', '/dev/null'], restart: 'never', env: {}, maxLineBytes: 16_384, startOnBoot: false });
});

test('a broken jobs file lists every problem at once, each naming the file, the job and the field', () => {
  const file = '/srv/megaphone/jobs.yaml';
  const { jobs, problems } = parseJobsFile(
    `jobs:
  - name: Bad_Name
    command: ["ok"]
  - name: disk
    command: "df -h"
    every: often
    timeout: 30
    restart: sometimes
    cwd: /definitely/not/here
    env: { "1BAD": x, GOOD: [1] }
    maxLineBytes: -1
    startOnBoot: "yes"
    colour: blue
  - name: disk
    command: []
  - name: argv
    command: ["echo", 3]
  - 42
`,
    file,
  );
  assert.deepEqual(jobs, [], 'a broken file yields no jobs');
  const expect: [string, string][] = [
    ['job "Bad_Name" (jobs[0])', 'field "name"'],
    ['job "disk" (jobs[1])', 'field "command"'],
    ['job "disk" (jobs[1])', 'field "every"'],
    ['job "disk" (jobs[1])', 'field "timeout"'],
    ['job "disk" (jobs[1])', 'field "restart"'],
    ['job "disk" (jobs[1])', 'field "cwd"'],
    ['job "disk" (jobs[1])', 'field "env.1BAD"'],
    ['job "disk" (jobs[1])', 'field "env.GOOD"'],
    ['job "disk" (jobs[1])', 'field "maxLineBytes"'],
    ['job "disk" (jobs[1])', 'field "startOnBoot"'],
    ['job "disk" (jobs[1])', 'field "colour"'],
    ['job "disk" (jobs[2])', 'field "name"'],
    ['job "disk" (jobs[2])', 'field "command"'],
    ['job "argv" (jobs[3])', 'field "command[1]"'],
    ['(jobs[4])', 'must be a mapping'],
  ];
  for (const [jobLabel, field] of expect) {
    assert.ok(
      problems.some((p) => p.includes(file) && p.includes(jobLabel) && p.includes(field)),
      `expected a problem naming ${jobLabel} and ${field}; got:\n${problems.join('\n')}`,
    );
  }
  assert.equal(problems.length, expect.length, problems.join('\n'));
  assert.ok(problems.find((p) => p.includes('"timeout"'))!.includes('not a duration'));
  assert.ok(problems.find((p) => p.includes('"restart"'))!.includes('never, on-failure, always'));
});

test('YAML syntax errors, a missing file and a wrong shape are reported with the file name', () => {
  const syntax = parseJobsFile('jobs:\n  - name: a\n    command: [unclosed\n', '/x/jobs.yaml');
  assert.equal(syntax.jobs.length, 0);
  assert.ok(syntax.problems.length > 0 && syntax.problems.every((p) => p.startsWith('jobs file /x/jobs.yaml')), syntax.problems.join('\n'));
  const dup = parseJobsFile('jobs: []\njobs: []\n', '/x/jobs.yaml');
  assert.ok(dup.problems.length > 0);
  const missing = loadJobsFile('/nonexistent/jobs.yaml');
  assert.match(missing.problems[0]!, /jobs file \/nonexistent\/jobs.yaml: cannot be read \(ENOENT\)/);
  assert.match(parseJobsFile('- a\n', '/x/j.yaml').problems[0]!, /must be a mapping with a `jobs` list/);
  assert.match(parseJobsFile('jobs: {}\nextra: 1\n', '/x/j.yaml').problems.join('\n'), /unknown top-level field "extra"[\s\S]*"jobs" must be a list/);
});

test('relative cwd is resolved against the jobs file folder', () => {
  const t = tempDir();
  try {
    const file = writeJobsFile(t.dir, 'jobs:\n  - name: here\n    command: [pwd]\n    cwd: .\n');
    const { jobs, problems } = loadJobsFile(file);
    assert.deepEqual(problems, []);
    assert.equal(jobs[0]!.cwd, t.dir);
  } finally {
    t.cleanup();
  }
});

test('readProducerConfig reports environment and jobs file problems together in one ConfigError', () => {
  const t = tempDir();
  try {
    const file = writeJobsFile(t.dir, 'jobs:\n  - name: x\n    command: [true]\n    every: never\n');
    assert.throws(
      () => readProducerConfig({ PRODUCER_JOBS_FILE: file, PRODUCER_PORT: 'eighty', PRODUCER_KILL_GRACE_MS: '-5' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const all = err.problems.join('\n');
        assert.match(all, /PRODUCER_PORT/);
        assert.match(all, /PRODUCER_KILL_GRACE_MS/);
        assert.match(all, new RegExp(`jobs file ${file}: job "x" \\(jobs\\[0\\]\\): field "every"`));
        return true;
      },
    );
  } finally {
    t.cleanup();
  }
});

test('defaults: the example jobs file from the package, ports 8090/9101, limits of the brief', () => {
  const c = readProducerConfig({});
  assert.equal(c.jobsFile, DEFAULT_JOBS_FILE);
  assert.match(c.jobsFile, /services\/producer\/jobs\.example\.yaml$/);
  assert.deepEqual(
    [c.host, c.port, c.adminHost, c.adminPort, c.apiToken, c.outboxMaxBytes, c.uptimeIntervalMs, c.maxBodyBytes, c.killGraceMs],
    ['0.0.0.0', 8090, '127.0.0.1', 9101, undefined, 8_388_608, 1000, 1_048_576, 5000],
  );
  assert.equal(c.allowedHosts.kind, 'list');
  assert.ok(c.warnings.some((w) => /no AUTH_JWT_SECRET/.test(w)) && c.warnings.some((w) => /loopback only/.test(w)));
  const names = c.jobs.map((j) => j.name);
  assert.ok(names.length >= 4, 'the example shows an endless, a periodic, a coloured and a failing job');
  assert.ok(c.jobs.some((j) => j.restart === 'always' && j.everyMs === undefined));
  assert.ok(c.jobs.some((j) => j.everyMs !== undefined));
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.jobs));
});

test('PRODUCER_ENV_NAMES lists every variable the producer reads', () => {
  for (const name of [
    'PRODUCER_HOST', 'PRODUCER_PORT', 'PRODUCER_ADMIN_HOST', 'PRODUCER_ADMIN_PORT', 'PRODUCER_JOBS_FILE', 'PRODUCER_API_TOKEN',
    'PRODUCER_OUTBOX_MAX_BYTES', 'PRODUCER_UPTIME_INTERVAL_MS', 'PRODUCER_MAX_BODY_BYTES', 'PRODUCER_KILL_GRACE_MS',
    'NODE_NAME', 'LOG_LEVEL', 'REDIS_URL', 'MAX_PUBLICATION_BYTES', 'HISTORY_SIZE',
    'AUTH_JWT_SECRET', 'AUTH_JWT_SECRET_FILE', 'AUTH_JWKS_FILE', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'PRODUCER_ALLOWED_HOSTS',
  ]) {
    assert.ok(PRODUCER_ENV_NAMES.includes(name), name);
  }
  assert.ok(PRODUCER_ENV_NAMES.every((n) => !n.startsWith('GATEWAY_')));
});
