// Abuse scenarios for issue 9, findings 6 and 7, and the per-connection channel bound, each against
// `npm start` as a child process with one healthy client watching throughout; each asserts its
// bound and the watcher's latency against its baseline, and prints its numbers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { waitFor } from '../src/cluster/wait.js';
import { CommandClient, slowLoris } from '../src/abuse/clients.js';
import { Stack } from '../src/abuse/stack.js';
import { Watcher, type Health } from '../src/abuse/watcher.js';

const MiB = 1024 * 1024;

describe('abuse: one gateway, one process', () => {
  let stack: Stack;
  let watcher: Watcher;
  before(async () => {
    stack = await Stack.start({ env: { GATEWAY_MAX_COMMANDS_PER_SECOND: '3000', GATEWAY_MAX_SUBSCRIPTIONS: '100' } });
    watcher = await Watcher.start(stack);
  });
  after(async () => {
    watcher?.stop();
    await stack?.stop();
  });

  /** Asserts the watcher unaffected since `baseline` and prints its figures. */
  async function unaffected(finding: string, baseline: Health): Promise<void> {
    console.log(`${finding}: ${await watcher.assertUnaffected(baseline, stack.tail())}`);
  }

  it('finding 1: one connection touches at most GATEWAY_MAX_CHANNELS_PER_MINUTE (300) channels a minute', async () => {
    const baseline = await watcher.baseline();
    const c = await CommandClient.connect(stack.ws);
    const pairs = Array.from({ length: 400 }, (_, i) => [
      { op: 'subscribe', id: i, channel: `touch:n${i}` },
      { op: 'unsubscribe', id: i, channel: `touch:n${i}` },
    ]).flat();
    const start = Date.now();
    await c.lockstep(pairs, 100, () => c.n('subscribed') + c.n('unsubscribed') + c.n('error'));
    // The bucket refills at 5 a second while the commands run.
    const bound = 300 + Math.ceil(((Date.now() - start) / 1000) * 5);
    console.log(`finding 1: one connection asked for 400 made-up channels in ${pairs.length} commands: ${c.n('subscribed')} subscribed, ${c.errors.get('rate_limited') ?? 0} rate_limited (bound 300 a minute; ${bound} for this run's ${Date.now() - start} ms)`);
    assert.ok(c.n('subscribed') >= 300 && c.n('subscribed') <= bound, `${c.n('subscribed')} subscribed`);
    assert.equal(c.n('subscribed') + (c.errors.get('rate_limited') ?? 0), 400);
    c.close();
    await unaffected('finding 1', baseline);
  });

  it('finding 6: publications in 1,000 namespaces add no metric series beyond the configured namespaces and "other"', async () => {
    const baseline = await watcher.baseline();
    const NAMESPACES = 1000;
    const channels = Array.from({ length: NAMESPACES }, (_, i) => `label${i}:x`);
    const clients = await Promise.all(Array.from({ length: NAMESPACES / 100 }, () => CommandClient.connect(stack.ws)));
    await Promise.all(clients.map((c, k) => c.pace(channels.slice(k * 100, k * 100 + 100).map((channel, i) => ({ op: 'subscribe', id: i, channel })), 100)));
    for (const c of clients) await c.waitFor('subscribed', () => c.n('subscribed') === 100);
    const r = await stack.publish(channels.map((channel) => ({ channel, data: 1 })));
    assert.equal(r.status, 200);
    for (const c of clients) await c.waitFor('delivered', () => c.n('message') === 100);
    const text = await stack.metricsText();
    const series = text.split('\n').filter((l) => /^megaphone_\w+\{[^}]*namespace="/.test(l));
    const namespaces = new Set(series.map((l) => /namespace="([^"]*)"/.exec(l)?.[1] ?? ''));
    console.log(`finding 6: ${NAMESPACES} namespaces published to → ${series.length} series with a namespace label, values ${JSON.stringify([...namespaces].sort())}`);
    assert.ok([...namespaces].every((n) => ['', 'cmd', 'other'].includes(n)), JSON.stringify([...namespaces]));
    assert.ok(series.length <= 6, `${series.length} series`);
    for (const c of clients) c.close();
    await unaffected('finding 6', baseline);
  });

  it('finding 7: deeply nested data is a 400, slow headers a 408 on every port, and no subprotocol is echoed', async () => {
    const baseline = await watcher.baseline();
    const deep = 100_000;
    const t0 = Date.now();
    const r = await stack.publish(`{"channel":"deep","data":${'['.repeat(deep)}${']'.repeat(deep)}}`);
    const deepMs = Date.now() - t0;
    assert.equal(r.status, 400);
    assert.doesNotMatch(stack.tail(), /RangeError|Maximum call stack/);

    const head = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n';
    const ports = { public: stack.port, admin: stack.adminPort, api: stack.apiPort, apiAdmin: stack.apiAdminPort };
    const loris = await Promise.all(Object.values(ports).map((p) => slowLoris(p, head, 15_000)));
    for (const [i, name] of Object.keys(ports).entries()) {
      assert.match(loris[i]!.reply, /^HTTP\/1\.1 408 /, `${name}: ${loris[i]!.reply.slice(0, 40)}`);
      assert.ok(loris[i]!.closedAfterMs <= 14_000, `${name} closed after ${loris[i]!.closedAfterMs} ms`);
    }

    const protocol = await new Promise<string | undefined>((resolve) => {
      const ws = new WebSocket(stack.ws, ['chat']);
      ws.on('upgrade', (res) => resolve(res.headers['sec-websocket-protocol'] as string | undefined));
      ws.on('error', () => {});
      ws.on('unexpected-response', () => resolve('refused'));
      setTimeout(() => resolve('no answer'), 5000).unref();
    });
    assert.equal(protocol, undefined);
    console.log(
      `finding 7: 100,000-deep data → 400 in ${deepMs} ms, no stack logged; slow headers closed with 408 after ${loris.map((l) => l.closedAfterMs).join(' / ')} ms (public / admin / api / api admin; bound 14,000: the 10 s deadline, checked every second, on a loaded machine); offered subprotocol not echoed`,
    );
    await unaffected('finding 7', baseline);
  });
});
