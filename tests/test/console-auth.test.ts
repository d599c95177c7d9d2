/// <reference lib="dom" />
// Functions passed to page.$eval/evaluate run in the browser: the DOM types are for them only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { TEST_SECRET, mintHs256 } from '@megaphone/auth/testing';
import { launchChromium } from '../src/console/browser.js';
import { ensureConsoleBuilt } from '../src/console/console-build.js';
import { ConsoleStack } from '../src/console/stack.js';
import { waitFor } from '@megaphone/testing';

// The console with tokens on (SPEC §10): public `uptime`, private `jobs` and `cmd:*`.
const JOBS = {
  jobs: [
    { name: 'alpha', command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo "alpha $i"; sleep 0.2; done'], restart: 'always' },
    { name: 'beta', command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo "beta $i"; sleep 0.2; done'], restart: 'always' },
  ],
};

let stack: ConsoleStack;
let browser: Browser;

before(async () => {
  ensureConsoleBuilt();
  stack = await ConsoleStack.start({ jobsYaml: JSON.stringify(JOBS), env: { AUTH_JWT_SECRET: TEST_SECRET, AUTH_PUBLIC_CHANNELS: 'uptime' } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

/** Opens the console and records every URL the page requests (the token must be in none). */
async function open(hash = ''): Promise<{ page: Page; urls: string[] }> {
  const page = await browser.newPage();
  const urls: string[] = [];
  page.on('request', (req) => urls.push(req.url()));
  page.on('websocket', (ws) => urls.push(ws.url()));
  await page.goto(stack.url + hash);
  return { page, urls };
}

function attr(page: Page, testId: string, name: string): Promise<string | null> {
  return page.getAttribute(`[data-testid="${testId}"]`, name);
}

function terminalText(page: Page): Promise<string> {
  return page.$eval('[data-testid="terminal-lines"]', (el) => el.textContent ?? '');
}

test('without a token the console shows public channels only and says "not allowed" for the rest', async () => {
  const { page } = await open('#job=alpha');
  try {
    await waitFor('connection open', async () => (await attr(page, 'connection', 'data-state')) === 'open');
    await waitFor('uptime, a public channel', () => attr(page, 'uptime', 'data-seconds'));
    await waitFor('the jobs list says not allowed', () => page.$('[data-testid="jobs-denied"]'));
    await waitFor('the output says not allowed', async () => (await attr(page, 'terminal', 'data-access')) === 'denied');
    assert.match(await terminalText(page), /not allowed/);
    assert.doesNotMatch(await terminalText(page), /alpha \d/);
  } finally {
    await page.close();
  }
});

test('a #token= link reads the private job it covers, keeps the token out of every URL, and is refused another job', async () => {
  const token = await mintHs256({ sub: 'alice', channels: ['jobs', 'cmd:alpha'] });
  const { page, urls } = await open(`#job=alpha&token=${token}`);
  try {
    await waitFor('authenticated as alice', async () => (await attr(page, 'token', 'data-sub')) === 'alice');
    await waitFor('alpha output', async () => /alpha \d+/.test(await terminalText(page)));
    await waitFor('the jobs list', () => page.$('[data-testid="job"][data-job="beta"]'));
    assert.equal(await page.evaluate(() => location.hash), '#job=alpha', 'the token left the address bar');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('megaphone.token')), token);
    await page.click('[data-testid="job"][data-job="beta"]');
    await waitFor('beta is not allowed', async () => (await attr(page, 'terminal', 'data-access')) === 'denied');
    assert.doesNotMatch(await terminalText(page), /beta \d/);
    // A reload keeps the tab's token (sessionStorage), still without putting it in a URL.
    await page.reload();
    await waitFor('authenticated after a reload', async () => (await attr(page, 'token', 'data-sub')) === 'alice');
    const signature = token.split('.')[2]!;
    assert.ok(urls.length > 3);
    assert.deepEqual(urls.filter((u) => u.includes(signature)), [], 'no request URL carries the token');
  } finally {
    await page.close();
  }
});

test('a refused token is forgotten and the console goes on with the public channels', async () => {
  const expired = await mintHs256({ sub: 'late', channels: ['*'] }, { expiresIn: -3600 });
  const { page } = await open(`#token=${expired}`);
  try {
    await waitFor('the token is refused', async () => (await page.textContent('[data-testid="token-status"]')) === 'token refused');
    await waitFor('the token is forgotten', async () => (await page.evaluate(() => sessionStorage.getItem('megaphone.token'))) === null);
    await waitFor('connected again, without a token', async () => (await attr(page, 'connection', 'data-state')) === 'open');
    const first = Number(await waitFor('uptime', () => attr(page, 'uptime', 'data-seconds')));
    await waitFor('uptime ticking', async () => Number(await attr(page, 'uptime', 'data-seconds')) > first);
  } finally {
    await page.close();
  }
});

test('a token pasted into the box takes effect without a reload', async () => {
  const { page } = await open('#job=beta');
  try {
    await waitFor('beta not allowed yet', async () => (await attr(page, 'terminal', 'data-access')) === 'denied');
    await page.click('[data-testid="token-status"]');
    await page.fill('[data-testid="token-input"]', await mintHs256({ sub: 'bob', channels: ['jobs', 'cmd:*'] }));
    await page.click('[data-testid="token-save"]');
    await waitFor('authenticated as bob', async () => (await attr(page, 'token', 'data-sub')) === 'bob');
    await waitFor('beta output', async () => /beta \d+/.test(await terminalText(page)));
    await waitFor('the jobs list', () => page.$('[data-testid="job"][data-job="alpha"]'));
    assert.equal(await attr(page, 'terminal', 'data-access'), null);
  } finally {
    await page.close();
  }
});
