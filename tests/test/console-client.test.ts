import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { MegaphoneClient, type Anomaly, type GapEvent, type StateChange, type WebSocketConstructor } from '@megaphone/client';
import { ConsoleStack } from '../src/console/stack.js';
import { waitFor } from '@megaphone/testing';

// The client SDK against the real gateway (in-process, MemoryBus): the resume and close-code
// behaviour the web console relies on, checked exactly from Node.

const WS = WebSocket as unknown as WebSocketConstructor;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
after(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Probe {
  client: MegaphoneClient;
  received: { offset: number; n: number }[];
  gaps: GapEvent[];
  anomalies: Anomaly[];
  states: StateChange[];
}

async function setup(env: Record<string, string> = {}): Promise<{ stack: ConsoleStack; probe: Probe }> {
  const stack = await ConsoleStack.start({ env });
  cleanups.push(() => stack.close());
  const client = new MegaphoneClient({ url: `ws://127.0.0.1:${stack.port}/ws`, WebSocket: WS, backoff: { initialMs: 50, maxMs: 400 } });
  cleanups.push(() => client.close());
  const probe: Probe = { client, received: [], gaps: [], anomalies: [], states: [] };
  client.on('state', (s) => probe.states.push(s));
  client.on('anomaly', (a) => probe.anomalies.push(a));
  client.subscribe('cmd:e2e', {
    onMessage: (data, meta) => probe.received.push({ offset: meta.offset, n: (data as { n: number }).n }),
    onGap: (g) => probe.gaps.push(g),
  });
  await waitFor('subscribed', () => client.state === 'open' && client.position('cmd:e2e'));
  return { stack, probe };
}

/** Publishes `{n}` on cmd:e2e every few ms until stopped; returns how many it published. */
function publisher(stack: ConsoleStack): { count(): number; stop(): Promise<number> } {
  let n = 0;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      n++;
      await stack.bus.publish('cmd:e2e', JSON.stringify({ n }));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  cleanups.push(async () => {
    stopped = true;
    await done;
  });
  return {
    count: () => n,
    stop: async () => {
      stopped = true;
      await done;
      return n;
    },
  };
}

function assertContiguous(received: Probe['received'], total: number): void {
  assert.equal(received.length, total, `received ${received.length} of ${total}`);
  received.forEach((r, i) => {
    assert.equal(r.offset, i + 1, `offset at ${i}`);
    assert.equal(r.n, i + 1, `payload at ${i}`);
  });
}

test('the SDK resumes after its gateway restarts: every publication made meanwhile arrives once, in order', async () => {
  const { stack, probe } = await setup();
  const pub = publisher(stack);
  await waitFor('first publications', () => probe.received.length >= 20);
  await stack.stopGateway();
  await waitFor('reconnecting', () => probe.client.state === 'reconnecting');
  const atStop = pub.count();
  await waitFor('publications while no gateway is up', () => pub.count() >= atStop + 20);
  await stack.startGateway();
  await waitFor('reconnected to the new gateway', () => probe.client.state === 'open' && probe.client.node === stack.node);
  await waitFor('publications after the restart', () => probe.received.length >= atStop + 20);
  const total = await pub.stop();
  await waitFor('every publication', () => probe.received.length >= total);
  assertContiguous(probe.received, total);
  assert.deepEqual(probe.gaps, []);
  assert.deepEqual(probe.anomalies, []);
});

test("a draining gateway's 1001 retry hint is honoured and the stream resumes without loss", async () => {
  const { stack, probe } = await setup({ GATEWAY_DRAIN_MS: '50' });
  const pub = publisher(stack);
  await waitFor('first publications', () => probe.received.length >= 10);
  await stack.drainGateway();
  await stack.startGateway();
  const reconnecting = await waitFor('reconnecting', () => probe.states.find((s) => s.state === 'reconnecting'));
  assert.equal(reconnecting.closeCode, 1001);
  const hint = JSON.parse(reconnecting.closeReason ?? '{}') as { retryAfterMs?: number };
  assert.equal(typeof hint.retryAfterMs, 'number');
  assert.ok((reconnecting.delayMs ?? 0) >= hint.retryAfterMs!, `waited ${reconnecting.delayMs} ms, hint was ${hint.retryAfterMs} ms`);
  await waitFor('reconnected', () => probe.client.state === 'open' && probe.client.node === stack.node);
  const total = await pub.stop();
  await waitFor('every publication', () => probe.received.length >= total);
  assertContiguous(probe.received, total);
  assert.deepEqual(probe.gaps, []);
});

test('a resume that history no longer covers is reported as a reset naming what was lost', async () => {
  const { stack, probe } = await setup({ HISTORY_SIZE: '10' });
  for (let n = 1; n <= 5; n++) await stack.bus.publish('cmd:e2e', JSON.stringify({ n }));
  await waitFor('first five', () => probe.received.length === 5);
  await stack.stopGateway();
  for (let n = 6; n <= 35; n++) await stack.bus.publish('cmd:e2e', JSON.stringify({ n }));
  await stack.startGateway();
  const gap = await waitFor('the reset', () => probe.gaps[0]);
  const epoch = probe.client.position('cmd:e2e')!.epoch;
  assert.deepEqual(gap, { channel: 'cmd:e2e', kind: 'reset', from: { epoch, offset: 5 }, epoch, to: 35, reason: 'history_expired' });
  await stack.bus.publish('cmd:e2e', JSON.stringify({ n: 36 }));
  await waitFor('live after the reset', () => probe.received.length === 6);
  assert.deepEqual(probe.received.map((r) => r.offset), [1, 2, 3, 4, 5, 36]);
  assert.deepEqual(probe.anomalies, []);
});
