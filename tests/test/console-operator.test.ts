/// <reference lib="dom" />
// Functions passed to page.$eval/evaluate run in the browser: the DOM types are for them only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Browser } from 'playwright-core';
import { WebSocket } from 'ws';
import { launchChromium } from '../src/console/browser.js';
import { ensureConsoleBuilt } from '../src/console/console-build.js';
import { ConsoleStack } from '../src/console/stack.js';
import { waitFor } from '@megaphone/testing';

// The console's side of SPEC §11: "N watching" for the selected job, and a 4403 shown as final.

let stack: ConsoleStack;
let browser: Browser;

before(async () => {
  ensureConsoleBuilt();
  stack = await ConsoleStack.start({ logLevel: 'silent' });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

async function watcher(channel: string): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${stack.port}/ws`);
  await once(ws, 'open');
  const subscribed = new Promise<void>((resolve) => ws.on('message', (d) => String(d).includes('"op":"subscribed"') && resolve()));
  ws.send(JSON.stringify({ op: 'subscribe', id: 1, channel }));
  await subscribed;
  return ws;
}

interface Row {
  id: string;
  channels: Array<{ channel: string }>;
}

test('the console shows how many watch the selected job, and says so when an operator disconnects it (no reconnect)', async () => {
  await stack.bus.publish('jobs', JSON.stringify({ job: 'build', run: 'r1', event: 'started', pid: 1, trigger: 'api', startedAt: new Date().toISOString() }));
  const others = await Promise.all([watcher('cmd:build'), watcher('cmd:build')]);
  const page = await browser.newPage();
  // The page's timers run on a clock the test can run forward (time flows as usual until then).
  await page.clock.install();
  await page.goto(`${stack.url}#job=build`);
  await waitFor('"3 watching"', async () => (await page.textContent('[data-testid="watching"]')) === '3 watching');
  others[0]!.terminate();
  await waitFor('"2 watching" after one leaves', async () => (await page.textContent('[data-testid="watching"]')) === '2 watching');

  const admin = `http://127.0.0.1:${stack.adminPort}`;
  const rows = (await (await fetch(`${admin}/v1/connections?sort=age`)).json()) as Row[];
  const browserConn = rows.find((r) => r.channels.some((c) => c.channel === 'uptime'));
  assert.ok(browserConn !== undefined, 'the console is listed with its channels');
  const del = await fetch(`${admin}/v1/connections/${encodeURIComponent(browserConn.id)}`, { method: 'DELETE' });
  assert.equal(del.status, 200);
  await waitFor('the console closed', async () => (await page.getAttribute('[data-testid="connection"]', 'data-state')) === 'closed');
  assert.equal(await page.textContent('[data-testid="connection"] .status-text'), 'disconnected by an operator');
  assert.equal(await page.getAttribute('[data-testid="connection"]', 'data-close-code'), '4403');
  // It must not come back on its own: a minute of the page's time runs every timer armed in it
  // (the SDK's first retry would be due within its 500 ms backoff), and any (re)connect would
  // show at once as a state other than closed.
  await page.clock.runFor(60_000);
  assert.equal(await page.getAttribute('[data-testid="connection"]', 'data-state'), 'closed');
  const after = (await (await fetch(`${admin}/v1/connections`)).json()) as Row[];
  assert.equal(after.length, 1, 'only the other watcher is connected');
  others[1]!.terminate();
  await page.close();
});
