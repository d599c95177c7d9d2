import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { MegaphoneClient, type Anomaly, type GapEvent, type StateChange, type WebSocketConstructor } from '@megaphone/client';
import { ConsoleStack } from '../src/console/stack.js';
import { until } from '../src/console/wait.js';

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
  await until(() => client.state === 'open' && client.position('cmd:e2e'), 'subscribed');
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
  await until(() => probe.received.length >= 20, 'first publications');
  await stack.stopGateway();
  await until(() => probe.client.state === 'reconnecting', 'reconnecting');
  const atStop = pub.count();
  await new Promise((r) => setTimeout(r, 300));
  await stack.startGateway();
  await until(() => probe.client.state === 'open' && probe.client.node === stack.node, 'reconnected to the new gateway');
  await until(() => probe.received.length >= atStop + 20, 'publications after the restart');
  const total = await pub.stop();
  await until(() => probe.received.length >= total, 'every publication');
  assertContiguous(probe.received, total);
  assert.deepEqual(probe.gaps, []);
  assert.deepEqual(probe.anomalies, []);
});

test("a draining gateway's 1001 retry hint is honoured and the stream resumes without loss", async () => {
  const { stack, probe } = await setup({ GATEWAY_DRAIN_MS: '50' });
  const pub = publisher(stack);
  await until(() => probe.received.length >= 10, 'first publications');
  await stack.drainGateway();
  await stack.startGateway();
  const reconnecting = await until(() => probe.states.find((s) => s.state === 'reconnecting'), 'reconnecting');
  assert.equal(reconnecting.closeCode, 1001);
  const hint = JSON.parse(reconnecting.closeReason ?? '{}') as { retryAfterMs?: number };
  assert.equal(typeof hint.retryAfterMs, 'number');
  assert.ok((reconnecting.delayMs ?? 0) >= hint.retryAfterMs!, `waited ${reconnecting.delayMs} ms, hint was ${hint.retryAfterMs} ms`);
  await until(() => probe.client.state === 'open' && probe.client.node === stack.node, 'reconnected');
  const total = await pub.stop();
  await until(() => probe.received.length >= total, 'every publication');
  assertContiguous(probe.received, total);
  assert.deepEqual(probe.gaps, []);
});

test('a resume that history no longer covers is reported as a reset naming what was lost', async () => {
  const { stack, probe } = await setup({ HISTORY_SIZE: '10' });
  for (let n = 1; n <= 5; n++) await stack.bus.publish('cmd:e2e', JSON.stringify({ n }));
  await until(() => probe.received.length === 5, 'first five');
  await stack.stopGateway();
  for (let n = 6; n <= 35; n++) await stack.bus.publish('cmd:e2e', JSON.stringify({ n }));
  await stack.startGateway();
  const gap = await until(() => probe.gaps[0], 'the reset');
  const epoch = probe.client.position('cmd:e2e')!.epoch;
  assert.deepEqual(gap, { channel: 'cmd:e2e', kind: 'reset', from: { epoch, offset: 5 }, epoch, to: 35, reason: 'history_expired' });
  await stack.bus.publish('cmd:e2e', JSON.stringify({ n: 36 }));
  await until(() => probe.received.length === 6, 'live after the reset');
  assert.deepEqual(probe.received.map((r) => r.offset), [1, 2, 3, 4, 5, 36]);
  assert.deepEqual(probe.anomalies, []);
});
