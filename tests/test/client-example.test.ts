import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../src/console/browser.js';
import { ensureConsoleBuilt } from '../src/console/console-build.js';
import { ConsoleStack } from '../src/console/stack.js';
import { waitFor } from '@megaphone/testing';

// examples/browser/index.html, served from an origin of its own (not the gateway), imports the
// SDK from the gateway's /client.js and follows a channel: what "one <script type=module>" means.

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
let site: Server;
let origin: string;
let stack: ConsoleStack;
let browser: Browser;

before(async () => {
  ensureConsoleBuilt();
  site = createServer((req, res) => {
    if (req.url?.split('?')[0] !== '/browser/index.html') return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    createReadStream(`${examples}browser/index.html`).pipe(res);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  stack = await ConsoleStack.start({ env: { GATEWAY_ALLOWED_ORIGINS: origin } });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await stack?.close();
  await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
});

test('the example page loads the SDK from the gateway and shows history, live publications and the connection state', async () => {
  await stack.bus.publish('notes', JSON.stringify({ line: 'before the page' }));
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const scripts: string[] = [];
  page.on('request', (r) => {
    if (r.resourceType() === 'script') scripts.push(r.url());
  });
  await page.goto(`${origin}/browser/index.html?gateway=http://127.0.0.1:${stack.port}&channel=notes`);
  await waitFor('the page connected', async () => (await page.textContent('#state')) === 'open', { timeoutMs: 20_000 });
  assert.deepEqual(scripts, [`http://127.0.0.1:${stack.port}/client.js`]);
  await waitFor('history shown', async () => (await page.textContent('#log'))?.includes('#1 {"line":"before the page"}'));
  await stack.bus.publish('notes', JSON.stringify({ line: 'live' }));
  await waitFor('the live publication on top', async () => (await page.textContent('#log li:first-child')) === '#2 {"line":"live"}');
  assert.deepEqual(errors, []);
  await page.close();
});
