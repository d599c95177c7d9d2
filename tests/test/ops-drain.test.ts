// The drain, on real processes over Redis: SIGTERM a gateway holding 300 clients. Readiness fails
// at once, new upgrades get 503, the clients are closed with 1001 spread over GATEWAY_DRAIN_MS with
// a retry hint, they resume on the other gateways with `since` without losing or repeating a
// publication, and the process exits 0 before the drain window plus a small margin.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { startLocalCluster, type LocalCluster } from '../src/ops/cluster.js';
import { getText, waitFor } from '../src/ops/net.js';
import { OpsClient } from '../src/ops/ws-client.js';

const CLIENTS = 300;
const DRAIN_MS = 6000;
const CHANNEL = 'drain:test';

interface Tracked {
  first: OpsClient;
  closedAt?: number;
  closeCode?: number;
  retryAfterMs?: number;
  second?: OpsClient;
  secondNode?: string;
}

function offsetsOf(c: OpsClient | undefined): number[] {
  return (c?.messages ?? []).filter((m) => m.op === 'message' && m.channel === CHANNEL).map((m) => Number(m.offset));
}

describe('SIGTERM on a gateway holding 300 clients', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  const tracked: Tracked[] = [];
  let publishing = true;
  let lastOffset = 0;
  let epoch = '';
  let publisher: Promise<void> | undefined;
  let signalledAt = 0;
  let readyzFailedAfterMs = Infinity;
  // Asked the moment this process sees the first close: causally after the gateway closed a client,
  // so it must already read 503 if readiness flipped first (a poller's timing cannot tell on a busy
  // machine: this process handles 300 closes while it polls).
  let readyzAfterFirstClose: Promise<number> | undefined;
  let upgradeStatusWhileDraining: number | undefined;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let exitedAfterMs = 0;

  before(async () => {
    cluster = await startLocalCluster({ port: 0, env: { GATEWAY_DRAIN_MS: String(DRAIN_MS) } });
    const publish = async (): Promise<void> => {
      const res = await fetch(`${cluster.producer.url}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: CHANNEL, data: { n: lastOffset + 1 } }),
      });
      const body = (await res.json()) as { epoch: string; offset: number } | { epoch: string; offset: number }[];
      const r = Array.isArray(body) ? body[0]! : body;
      assert.equal(res.status, 200);
      epoch = r.epoch;
      lastOffset = r.offset;
    };
    await publish();
    publisher = (async () => {
      while (publishing) {
        await publish();
        // Slow enough that 300 clients in this process do not starve its own event loop.
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const [victim, ...others] = cluster.gateways as [LocalCluster['gateways'][number], ...LocalCluster['gateways']];
    const origin = victim.url;
    for (let i = 0; i < CLIENTS; i++) {
      const first = new OpsClient(`ws://127.0.0.1:${victim.port}/ws`, { origin });
      const t: Tracked = { first };
      tracked.push(t);
      first.ws.on('close', (code, reason) => {
        t.closedAt = Date.now();
        readyzAfterFirstClose ??= getText(`http://127.0.0.1:${victim.adminPort}/readyz`, 2000).then((r) => r.status, () => 0);
        t.closeCode = code;
        try {
          t.retryAfterMs = (JSON.parse(reason.toString()) as { retryAfterMs?: number }).retryAfterMs;
        } catch {
          t.retryAfterMs = undefined;
        }
        if (code !== 1001) return;
        // Come back after the hinted delay, on another gateway, from the last offset seen.
        const seen = offsetsOf(first);
        const other = others[i % others.length]!;
        setTimeout(() => {
          const second = new OpsClient(`ws://127.0.0.1:${other.port}/ws`, { origin: other.url });
          t.second = second;
          t.secondNode = other.name;
          second.opened.then(
            () => second.send({ op: 'subscribe', id: 1, channel: CHANNEL, since: { epoch, offset: seen.at(-1) ?? 0 } }),
            () => undefined,
          );
        }, t.retryAfterMs ?? 1000);
      });
      await first.opened;
      first.send({ op: 'subscribe', id: 1, channel: CHANNEL, history: 1 });
    }
    await Promise.all(tracked.map((t) => t.first.waitFor('a live message', (m) => m.op === 'message', 20_000)));

    signalledAt = Date.now();
    const exited = cluster.signalGateway(0, 'SIGTERM');
    // The signal is handled asynchronously: poll until readiness fails, and compare with the first close.
    readyzFailedAfterMs = await waitFor('/readyz to fail', async () => {
      const r = await getText(`http://127.0.0.1:${victim.adminPort}/readyz`, 2000).catch(() => ({ status: 0 }));
      return r.status === 503 ? Date.now() - signalledAt : undefined;
    }, { timeoutMs: 5000, intervalMs: 10 });
    upgradeStatusWhileDraining = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${victim.port}/ws`, { headers: { origin } });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => {
        resolve(101);
        ws.terminate();
      });
      ws.on('error', () => resolve(-1));
    });
    exit = await exited;
    exitedAfterMs = Date.now() - signalledAt;
    // Everyone is back; publish a little more, then check every stream up to the last offset.
    await waitFor('all clients resumed', () => tracked.every((t) => t.second && t.second.messages.some((m) => m.op === 'subscribed')), { timeoutMs: 20_000, intervalMs: 100 });
    const resumedAt = lastOffset;
    await waitFor('a few publications after the resume', () => lastOffset >= resumedAt + 3, { timeoutMs: 20_000, intervalMs: 50 });
    publishing = false;
    await publisher;
    await waitFor('every client to reach the last offset', () => tracked.every((t) => offsetsOf(t.second).at(-1) === lastOffset), { timeoutMs: 20_000, intervalMs: 100 });
  });

  after(async () => {
    publishing = false;
    await publisher?.catch(() => undefined);
    for (const t of tracked) {
      t.first.close();
      t.second?.close();
    }
    await cluster?.stop();
  });

  test('readiness fails at once (before the first client is closed) and new WebSocket upgrades get 503', async () => {
    const firstClose = Math.min(...tracked.map((t) => t.closedAt! - signalledAt));
    assert.equal(await readyzAfterFirstClose, 503, `/readyz asked after the first close (${firstClose} ms after SIGTERM)`);
    assert.ok(readyzFailedAfterMs < 1000, `/readyz failed ${readyzFailedAfterMs} ms after SIGTERM`);
    assert.equal(upgradeStatusWhileDraining, 503);
  });

  test('every client is closed with 1001 and a retryAfterMs hint', () => {
    const codes = new Map<number | undefined, number>();
    for (const t of tracked) codes.set(t.closeCode, (codes.get(t.closeCode) ?? 0) + 1);
    assert.deepEqual([...codes], [[1001, CLIENTS]]);
    assert.ok(tracked.every((t) => typeof t.retryAfterMs === 'number' && t.retryAfterMs > 0), 'retry hints');
  });

  test('the closes are spread over the drain window, not all at once', () => {
    const times = tracked.map((t) => t.closedAt! - signalledAt).sort((a, b) => a - b);
    const first = times[0]!;
    const span = times.at(-1)! - first;
    assert.ok(span >= DRAIN_MS * 0.5, `closes spread over ${span} ms of a ${DRAIN_MS} ms window`);
    assert.ok(times.at(-1)! <= DRAIN_MS + 3000, `last close ${times.at(-1)} ms after SIGTERM`);
    // Not a burst: no tenth of the window holds three quarters of the closes (even spacing gives a
    // tenth; the margin absorbs a loaded machine delaying timers in the gateway or in this process).
    const tenth = DRAIN_MS / 10;
    const densest = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + tenth).length));
    assert.ok(densest < CLIENTS * 0.75, `${densest} of ${CLIENTS} closes within ${tenth} ms`);
  });

  test('clients resume on the other gateways with since, without losing or repeating a publication', () => {
    const problems: string[] = [];
    for (const [i, t] of tracked.entries()) {
      const subscribed = t.second!.messages.find((m) => m.op === 'subscribed');
      if (subscribed?.recovered !== true) problems.push(`client ${i}: recovered=${String(subscribed?.recovered)}`);
      if (t.secondNode === cluster.gateways[0]!.name) problems.push(`client ${i} came back to the draining gateway`);
      const all = [...offsetsOf(t.first), ...offsetsOf(t.second)];
      const start = all[0]!;
      const expected = Array.from({ length: lastOffset - start + 1 }, (_, k) => start + k);
      if (all.length !== expected.length || all.some((o, k) => o !== expected[k])) {
        problems.push(`client ${i}: ${all.length} offsets from ${start}, expected ${expected.length} up to ${lastOffset}`);
      }
    }
    assert.deepEqual(problems.slice(0, 10), []);
  });

  test('the gateway exits 0 within the drain window plus a margin', () => {
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(exitedAfterMs < DRAIN_MS + 5000, `exited ${exitedAfterMs} ms after SIGTERM`);
  });
});
