/// <reference lib="dom" />
// Functions passed to page.$eval/evaluate run in the browser: the DOM types are for them only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import type { Browser } from 'playwright-core';
import { WebSocket, type ClientOptions } from 'ws';
import { MemoryBus } from '@megaphone/bus';
import { readGatewayConfig, startGateway, type GatewayHandle } from '@megaphone/gateway';
import { CloseCode } from '@megaphone/protocol';
import { createLogger, historyPolicyFor } from '@megaphone/runtime';
import { launchChromium, openOperatorPage } from '../src/console/browser.js';
import { waitFor } from '@megaphone/testing';

const TOKEN = 'operator-page-token-0123456789';

let browser: Browser;
let gw: GatewayHandle;
let bus: MemoryBus;

before(async () => {
  const config = readGatewayConfig({
    NODE_NAME: 'gw-page',
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_ADMIN_HOST: '127.0.0.1',
    GATEWAY_ADMIN_PORT: '0',
    ADMIN_TOKEN: TOKEN,
    GATEWAY_MAX_QUEUE_BYTES: String(64 * 1024),
    HISTORY_SIZE: '5000',
  });
  bus = new MemoryBus({ history: historyPolicyFor(config.namespaces) });
  gw = await startGateway({ config, bus, logger: createLogger({ level: 'silent', service: 'gateway', node: 'gw-page' }) });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await gw?.close();
  await bus?.close();
});

interface Client {
  ws: WebSocket;
  session: string;
  closed: Promise<number>;
  socket: () => Socket;
}

async function connect(channel: string): Promise<Client> {
  let socket: Socket | undefined;
  const options: ClientOptions = { createConnection: (o) => (socket = createConnection(o as { port: number; host: string })) };
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`, options);
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  let session = '';
  let subscribed = false;
  ws.on('message', (data) => {
    for (const line of String(data).split('\n')) {
      const m = JSON.parse(line) as { op: string; session?: string };
      if (m.op === 'welcome') session = m.session!;
      if (m.op === 'subscribed') subscribed = true;
    }
  });
  await once(ws, 'open');
  ws.send(JSON.stringify({ op: 'subscribe', id: 1, channel }));
  await waitFor('subscribed', () => subscribed && session !== '');
  return { ws, session, closed, socket: () => socket! };
}

test('the operator page asks for the token, lists the stalled connection first, and its button closes it with 4403', async () => {
  const keeping = await connect('cmd:build');
  const stalled = await connect('cmd:build');
  await connect('uptime');
  stalled.socket().pause();
  const pad = 'x'.repeat(10_000);
  for (let i = 1; i <= 600; i++) {
    await bus.publish('cmd:build', JSON.stringify({ i, pad }));
    if (i % 4 === 0) await new Promise((r) => setImmediate(r));
  }

  const { page, errors } = await openOperatorPage(browser, gw.adminPort, TOKEN);

  const firstId = await waitFor('three connections listed', async () => {
    const ids = await page.$$eval('[data-testid="connections"] tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.id ?? ''));
    return ids.length === 3 ? ids[0] : undefined;
  });
  assert.equal(firstId, stalled.session, 'the stalled connection is first by queue');
  const stalledRow = await page.$eval(`tr[data-id="${stalled.session}"]`, (tr) => tr.textContent ?? '');
  assert.match(stalledRow, /paused/);
  assert.match(stalledRow, /cmd:build @\d+ \(−\d+\)/, 'its lag is shown');

  const channels = await waitFor('two channels listed', async () => {
    const rows = await page.$$eval('[data-testid="channels"] tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    return rows.length === 2 ? rows : undefined;
  });
  assert.match(channels[0]!, /^cmd:build2gw-page: 2$/);

  assert.equal(await page.evaluate(() => sessionStorage.getItem('megaphone.adminToken')), TOKEN, 'kept for this tab');
  await page.click(`tr[data-id="${stalled.session}"] [data-testid="disconnect"]`);
  stalled.socket().resume();
  assert.equal(await stalled.closed, CloseCode.OperatorDisconnect);
  await waitFor('the closed connection leaves the table', async () => (await page.$$('[data-testid="connections"] tbody tr')).length === 2);

  await page.reload();
  await page.waitForSelector('[data-testid="connections"] tbody tr[data-id]');
  assert.equal(await page.isHidden('[data-testid="login"]'), true, 'no second prompt in the same tab');
  assert.deepEqual(errors, []);
  keeping.ws.terminate();
  await page.close();
});

test('a wrong token brings the prompt back with the reason', async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${gw.adminPort}/`);
  await page.fill('[data-testid="token"]', 'not-the-token-at-all');
  await page.click('[data-testid="login-submit"]');
  await page.waitForSelector('[data-testid="login"]:not([hidden])');
  await waitFor('the reason is shown', async () => /bearer token is not valid/.test((await page.textContent('[data-testid="status"]')) ?? ''));
  await page.close();
});
