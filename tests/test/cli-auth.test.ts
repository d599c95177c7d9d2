import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Standalone, runCli } from '../src/cli/harness.js';

// The command line with tokens on (SPEC §10): `megaphone token` mints what the services verify,
// and tail, run --follow and publish carry it (--token / MEGAPHONE_TOKEN).

const SECRET = 'cli-auth-test-secret-of-at-least-32-bytes';
const JOBS = `
jobs:
  - name: hello
    command: ["echo", "hello"]
    startOnBoot: false
`;
let svc: Standalone;
let env: Record<string, string>;

before(async () => {
  svc = await Standalone.start(JOBS, { AUTH_JWT_SECRET: SECRET, AUTH_PUBLIC_CHANNELS: 'uptime' });
  env = svc.cliEnv;
});
after(async () => {
  await svc?.close();
});

async function token(...args: string[]): Promise<string> {
  const r = await runCli(['token', ...args], { env: { AUTH_JWT_SECRET: SECRET } });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

test('without a token only public channels can be followed; a refusal says how to pass one', async () => {
  assert.equal((await runCli(['tail', 'uptime', '--count', '1'], { env })).code, 0);
  const r = await runCli(['tail', 'cmd:hello', '--count', '1'], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^megaphone: cannot follow cmd:hello: unauthorized: .*\(pass a token with --token or MEGAPHONE_TOKEN\)\n$/);
});

test('a minted token lets its holder run and follow the jobs and publish on the channels it names, and nothing else', async () => {
  const t = await token('--sub', 'alice', '--channels', 'cmd:*', '--run', 'hello', '--publish', 'notes', '--ttl', '10m');
  const run = await runCli(['run', 'hello', '--follow'], { env: { ...env, MEGAPHONE_TOKEN: t } });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'hello\n');
  const published = await runCli(['publish', 'notes', '{"ok":true}', '--token', t], { env });
  assert.equal(published.code, 0, published.stderr);
  const refused = await runCli(['publish', 'elsewhere', '{"ok":true}', '--token', t], { env });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /403 forbidden/);
});

test('a token that does not cover a channel is refused for that channel', async () => {
  const t = await token('--sub', 'bob', '--channels', 'uptime');
  const r = await runCli(['tail', 'cmd:hello', '--count', '1', '--token', t], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^megaphone: cannot follow cmd:hello: forbidden: /);
});
