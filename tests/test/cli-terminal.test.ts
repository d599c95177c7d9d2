import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeAdmin } from '../src/cli/fake-admin.js';
import { MEGAPHONE_BIN, Standalone, runCli } from '../src/cli/harness.js';
import { TmuxSession } from '../src/cli/tmux.js';

// The CLI in a real terminal (tmux): `top` redraws in place and leaves cleanly, job colours are
// kept on a terminal and dropped with NO_COLOR, the status line shows while it cannot connect.

const ADMIN_TOKEN = 'operator-secret';
const sessions: TmuxSession[] = [];
let admin: FakeAdmin;

before(async () => {
  admin = await FakeAdmin.start(ADMIN_TOKEN);
});
after(async () => {
  for (const s of sessions) s.close();
  await admin?.close();
});

function terminal(args: string, env: Record<string, string> = {}, width = 110, height = 24): TmuxSession {
  const s = TmuxSession.start(`node ${MEGAPHONE_BIN} ${args}`, { TERM: 'xterm-256color', ...env }, width, height);
  sessions.push(s);
  return s;
}

describe('top', () => {
  test('draws the operator view in place, changes sort on s, and q restores the screen with exit 0', async () => {
    const t = terminal(`top --admin ${admin.url} --admin-token ${ADMIN_TOKEN} --interval 500ms`);
    const screen = await t.waitScreen((s) => s.includes('busiest channels'), 'the first frame');
    const lines = screen.split('\n');
    assert.match(lines[0]!, /^megaphone top {2}http:\/\/127\.0\.0\.1:\d+ {2}\d\d:\d\d:\d\d {2}sort: queue {3}s sort {2}q quit/);
    assert.match(screen, /sess-slow-1 +alice +10\.0\.0\.5 +ws +1h 00m +512\.0 KiB +catching_up +17 +cmd:build\(-17\) uptime/);
    assert.match(screen, /uptime +42 +gw-1:30 gw-2:12/);
    assert.ok(admin.requests.some((r) => r === '/v1/connections?sort=queue&limit=50'), admin.requests.join(' '));
    // A redraw replaces the frame instead of scrolling: the header stays on the first line.
    const count = admin.requests.length;
    await t.waitScreen(() => admin.requests.length >= count + 2, 'a refresh');
    assert.equal(t.screen().split('\n').filter((l) => l.startsWith('megaphone top')).length, 1);

    t.keys('s');
    await t.waitScreen((s) => s.includes('sort: lag'), 'the sort changed');
    assert.ok(admin.requests.some((r) => r.startsWith('/v1/connections?sort=lag')));
    t.keys('q');
    const end = await t.waitScreen((s) => s.includes('EXITED'), 'top to exit');
    assert.match(end, /EXITED 0/);
    assert.doesNotMatch(end, /busiest channels/, 'the alternate screen is gone');
  });

  test('Ctrl-C leaves cleanly too (exit 0)', async () => {
    const t = terminal(`top --admin ${admin.url} --admin-token ${ADMIN_TOKEN}`);
    await t.waitScreen((s) => s.includes('busiest channels'), 'the first frame');
    t.keys('C-c');
    const end = await t.waitScreen((s) => s.includes('EXITED'), 'top to exit');
    assert.match(end, /EXITED 0/);
  });

  test('a refused token is shown in the view and retried, not a crash', async () => {
    const t = terminal(`top --admin ${admin.url} --admin-token wrong --interval 500ms`);
    // The message is wrapped to the terminal's width: read it as one line.
    await t.waitScreen((s) => s.replace(/\s+/g, ' ').includes('401 unauthorized: a bearer token is required (pass a token with --admin-token or MEGAPHONE_ADMIN_TOKEN) — retrying every 0.5s'), 'the error');
    t.keys('q');
    assert.match(await t.waitScreen((s) => s.includes('EXITED'), 'exit'), /EXITED 0/);
  });

  test('off a terminal it prints the tables once', async () => {
    const r = await runCli(['top', '--admin', admin.url, '--admin-token', ADMIN_TOKEN]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^megaphone top {2}http:\/\/127\.0\.0\.1:\d+ {2}\d\d:\d\d:\d\d {2}sort: queue\n/);
    assert.match(r.stdout, /sess-fine-2 +- +127\.0\.0\.1 +sse/);
    assert.doesNotMatch(r.stdout, /\u001b/);
  });
});

describe('colours and status', () => {
  let svc: Standalone;
  before(async () => {
    svc = await Standalone.start(`
jobs:
  - name: colors
    command: ["sh", "-c", "printf '\\\\033[32mgreen line\\\\033[0m\\\\n'; printf '\\\\033]0;title\\\\007plain\\\\n'"]
    startOnBoot: true
`);
  });
  after(async () => {
    await svc?.close();
  });

  const env = () => svc.cliEnv;

  test("a job's colours are kept on a terminal; escapes that are not colours are not", async () => {
    const t = terminal('tail cmd:colors --history 10', env());
    const screen = await t.waitScreen((s) => s.includes('plain'), 'the output', 15_000, true);
    assert.match(screen, /\u001b\[32m(\u001b\[\d+m)*green line/);
    assert.doesNotMatch(screen, /title/);
    t.keys('C-c');
    assert.match(await t.waitScreen((s) => s.includes('EXITED'), 'exit'), /EXITED 0/);
  });

  test('NO_COLOR prints the same text without colours', async () => {
    const t = terminal('tail cmd:colors --history 10', { ...env(), NO_COLOR: '1' });
    const screen = await t.waitScreen((s) => s.includes('plain'), 'the output', 15_000, true);
    assert.match(screen, /green line/);
    assert.doesNotMatch(screen, /\u001b\[32m/);
    t.keys('C-c');
  });

  test('while the gateway cannot be reached, a status line on the terminal says so', async () => {
    const t = terminal('tail uptime --gateway ws://127.0.0.1:1/ws');
    await t.waitScreen((s) => /cannot connect to ws:\/\/127\.0\.0\.1:1\/ws \(closed 1006\); retrying in \d+\.\ds \(attempt \d+\)…/.test(s), 'the status line');
    t.keys('C-c');
    assert.match(await t.waitScreen((s) => s.includes('EXITED'), 'exit'), /EXITED 0/);
  });
});
