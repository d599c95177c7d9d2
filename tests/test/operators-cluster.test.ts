import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayHandle } from '@megaphone/gateway';
import { CloseCode } from '@megaphone/protocol';
import { OperatorCluster } from '../src/cluster/operator-cluster.js';
import type { OperatorTestClient } from '../src/cluster/operator-clients.js';
import { waitFor } from '../src/cluster/wait.js';

// SPEC §11 end to end: two gateways on one real Redis, each with its own RedisBus, as deployed.
const TOKEN = 'cluster-operator-token-0123456789';
const INTERVAL_MS = 300;

interface ChannelView {
  channel: string;
  subscribers: number;
  nodes: Record<string, number>;
}
interface Row {
  id: string;
  state: string;
  channels: Array<{ channel: string; offset: number; lag: number }>;
}

describe('operators see and steer two gateways on one Redis', { timeout: 120_000 }, () => {
  let cluster: OperatorCluster;
  let gateways: readonly GatewayHandle[] = [];
  const admin = (gw: GatewayHandle, method: string, path: string, body?: unknown) => cluster.admin(gw, method, path, body);
  const client = (gw: GatewayHandle, sub?: string): Promise<OperatorTestClient> => cluster.client(gw, sub);

  before(async () => {
    cluster = await OperatorCluster.start({ token: TOKEN, intervalMs: INTERVAL_MS });
    gateways = cluster.gateways;
  });

  after(async () => {
    await cluster?.close();
  });

  test('channel counts agree across both gateways within the reporting interval, for the API and the presence command', async () => {
    const [gw1, gw2] = gateways as [GatewayHandle, GatewayHandle];
    const on1 = await Promise.all([client(gw1), client(gw1), client(gw1)]);
    const on2 = await Promise.all([client(gw2), client(gw2)]);
    for (const c of [...on1, ...on2]) await c.subscribe('cmd:e2e');
    const subscribedAt = Date.now();
    const expected: ChannelView = { channel: 'cmd:e2e', subscribers: 5, nodes: { 'gw-1': 3, 'gw-2': 2 } };
    for (const gw of [gw1, gw2]) {
      await waitFor('both gateways agree', async () => JSON.stringify((await admin(gw, 'GET', '/v1/channels/cmd:e2e')).body) === JSON.stringify(expected), {
        timeoutMs: 2 * INTERVAL_MS + 2000,
      });
    }
    const agreedAfterMs = Date.now() - subscribedAt;
    assert.ok(agreedAfterMs < 2 * INTERVAL_MS + 2000, `agreed after ${agreedAfterMs} ms`);
    assert.equal(await on2[0]!.presence('cmd:e2e'), 5);
    assert.equal(await on1[0]!.presence('cmd:e2e'), 5);
    const listed = (await admin(gw2, 'GET', '/v1/channels?prefix=cmd:')).body as ChannelView[];
    assert.deepEqual(listed[0], expected);
    on2[1]!.terminate();
    await waitFor('gw-1 sees one fewer on gw-2', async () => ((await admin(gw1, 'GET', '/v1/channels/cmd:e2e')).body as ChannelView).nodes['gw-2'] === 1, {
      timeoutMs: 2 * INTERVAL_MS + 2000,
    });
  });

  test('a stalled client is listed first with its lag and cut off with 4403 through the API', async () => {
    const gw1 = gateways[0]!;
    const keeping = await client(gw1);
    const stalled = await client(gw1);
    await keeping.subscribe('cmd:flood');
    await stalled.subscribe('cmd:flood');
    stalled.stall(true);
    await cluster.flood('cmd:flood', 600);
    await waitFor('the reading client got everything', () => keeping.messages.filter((m) => m.op === 'message').length === 600, { timeoutMs: 30_000 });
    const rows = (await admin(gw1, 'GET', '/v1/connections?sort=lag&limit=3')).body as Row[];
    assert.equal(rows[0]!.id, stalled.session);
    const pos = rows[0]!.channels.find((c) => c.channel === 'cmd:flood')!;
    assert.ok(pos.lag > 0 && pos.offset + pos.lag === 600, JSON.stringify(pos));
    assert.equal(((await admin(gw1, 'GET', '/v1/connections?sort=queue&limit=1')).body as Row[])[0]!.id, stalled.session);
    const del = await admin(gw1, 'DELETE', `/v1/connections/${encodeURIComponent(stalled.session)}`);
    assert.deepEqual(del, { status: 200, body: { closed: 1 } });
    stalled.stall(false);
    assert.equal(await stalled.closed(), CloseCode.OperatorDisconnect);
  });

  test('one call disconnects a user on every gateway with 4403, and nobody else', async () => {
    const [gw1, gw2] = gateways as [GatewayHandle, GatewayHandle];
    const alice = [await client(gw1, 'alice'), await client(gw2, 'alice'), await client(gw2, 'alice')];
    const bob = await client(gw2, 'bob');
    const r = await admin(gw1, 'POST', '/v1/disconnect', { sub: 'alice' });
    assert.deepEqual(r, { status: 202, body: { closed: 1 } });
    for (const c of alice) assert.equal(await c.closed(), CloseCode.OperatorDisconnect);
    assert.equal(await bob.presence('nothing'), 0, 'bob is still connected');
    assert.equal(bob.closeCode, undefined);
  });

  test('a gateway that stops reporting drops out of the counts by TTL', async () => {
    const [gw1, gw2] = gateways as [GatewayHandle, GatewayHandle];
    await waitFor('gw-2 is counted', async () => ((await admin(gw1, 'GET', '/v1/channels/cmd:e2e')).body as ChannelView).nodes['gw-2'] !== undefined);
    gw2.operator.stop(); // silent from now on, as if it had died
    const stoppedAt = Date.now();
    await waitFor('gw-2 dropped out', async () => ((await admin(gw1, 'GET', '/v1/channels/cmd:e2e')).body as ChannelView).nodes['gw-2'] === undefined, {
      timeoutMs: 3 * INTERVAL_MS + 3000,
    });
    // Its last report may have come up to an interval before it stopped: TTL (3 intervals) minus that.
    assert.ok(Date.now() - stoppedAt >= INTERVAL_MS, 'not before the TTL');
  });
});
