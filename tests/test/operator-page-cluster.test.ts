/// <reference lib="dom" />
// Functions passed to page.$eval/evaluate run in the browser: the DOM types are for them only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { CloseCode } from '@megaphone/protocol';
import { launchChromium, openOperatorPage } from '../src/console/browser.js';
import { OperatorCluster } from '../src/cluster/operator-cluster.js';
import { waitFor } from '../src/cluster/wait.js';

// SPEC §11 done-when, from the operator page: two gateways on a real Redis, the page on gw-1.
const TOKEN = 'cluster-page-token-0123456789';
const INTERVAL_MS = 300;
const PUBLICATIONS = 600;

let cluster: OperatorCluster;
let browser: Browser;

before(async () => {
  cluster = await OperatorCluster.start({ token: TOKEN, intervalMs: INTERVAL_MS });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await cluster?.close();
});

test('on two gateways, the page lists the stalled client first with its lag, cuts it off with 4403, and disconnects a user on the other gateway too', { timeout: 120_000 }, async () => {
  const [gw1, gw2] = cluster.gateways;
  const keeping = await cluster.client(gw1);
  const stalled = await cluster.client(gw1);
  const aliceHere = await cluster.client(gw1, 'alice');
  const aliceThere = await cluster.client(gw2, 'alice');
  const bobThere = await cluster.client(gw2, 'bob');
  for (const c of [keeping, stalled, bobThere]) await c.subscribe('cmd:page');
  stalled.stall(true);
  await cluster.flood('cmd:page', PUBLICATIONS);
  await waitFor('the reading client got everything', () => keeping.messages.filter((m) => m.op === 'message').length === PUBLICATIONS, { timeoutMs: 30_000 });

  const { page, errors } = await openOperatorPage(browser, gw1.adminPort, TOKEN);

  const ids = await waitFor('gw-1 lists its three connections', async () => {
    const listed = await page.$$eval('[data-testid="connections"] tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.id ?? ''));
    return listed.length === 3 ? listed : undefined;
  });
  assert.equal(ids[0], stalled.session, 'the stalled connection is first by queue');
  assert.deepEqual([...ids].sort(), [keeping.session, stalled.session, aliceHere.session].sort(), 'only this gateway’s connections');
  const stalledRow = await page.$eval(`tr[data-id="${stalled.session}"]`, (tr) => tr.textContent ?? '');
  assert.match(stalledRow, /paused/);
  const lag = /cmd:page @(\d+) \(−(\d+)\)/.exec(stalledRow);
  assert.ok(lag, `its lag is shown: ${stalledRow}`);
  assert.equal(Number(lag[1]) + Number(lag[2]), PUBLICATIONS, 'offset + lag is the channel position');

  await waitFor('the busiest channel counts both gateways', async () => {
    const rows = await page.$$eval('[data-testid="channels"] tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    return rows[0] === 'cmd:page3gw-1: 2, gw-2: 1';
  }, { timeoutMs: 2 * INTERVAL_MS + 5000 });

  await page.click(`tr[data-id="${stalled.session}"] [data-testid="disconnect"]`);
  stalled.stall(false);
  assert.equal(await stalled.closed(), CloseCode.OperatorDisconnect);
  await waitFor('the closed connection leaves the table', async () => (await page.$$(`tr[data-id="${stalled.session}"]`)).length === 0);

  await page.fill('[data-testid="sub"]', 'alice');
  await page.click('#disconnect-sub button[type="submit"]');
  assert.equal(await aliceHere.closed(), CloseCode.OperatorDisconnect);
  assert.equal(await aliceThere.closed(), CloseCode.OperatorDisconnect, 'on the other gateway too');
  assert.ok((await bobThere.presence('cmd:page')) >= 1, 'bob is still connected and answered');
  assert.equal(bobThere.closeCode, undefined);
  assert.equal(keeping.closeCode, undefined);
  await waitFor('alice leaves the table', async () => (await page.$$(`tr[data-id="${aliceHere.session}"]`)).length === 0);
  assert.deepEqual(errors, []);
  await page.close();
});
