// Abuse scenario for finding 1 of issue 9: made-up channel names. A gateway (in this process, so
// that its heap can be measured after a full GC) takes 50,000 subscribe/unsubscribe pairs on names
// nobody publishes to, with a healthy client watching a channel fed throughout; afterwards it holds
// no state for any of the names, and the watcher saw every publication. (The reproduction
// used 210,000 names; the bound is per name, so 50,000 keep the run short.)
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryBus } from '@megaphone/bus';
import { readGatewayConfig, startGateway, type GatewayHandle } from '@megaphone/gateway';
import { createLogger, historyPolicyFor } from '@megaphone/runtime';
import { waitFor } from '@megaphone/testing';
import { CommandClient } from '../src/abuse/clients.js';
import { Watcher } from '../src/abuse/watcher.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const NAMES = 50_000;
const CLIENTS = 10;
const KiB = 1024;

let gateway: GatewayHandle;
let bus: MemoryBus;
let watcher: Watcher | undefined;
before(async () => {
  const config = readGatewayConfig({
    NODE_NAME: 'gw-abuse',
    LOG_LEVEL: 'silent',
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_ADMIN_HOST: '127.0.0.1',
    GATEWAY_ADMIN_PORT: '0',
    GATEWAY_MAX_COMMANDS_PER_SECOND: '5000',
    // This scenario measures memory; the per-connection bound on channels is abuse-scenarios'.
    GATEWAY_MAX_CHANNELS_PER_MINUTE: '1000000',
    // Large batches of subscribe/unsubscribe pairs in flight at once keep the run short.
    GATEWAY_MAX_SUBSCRIPTIONS: '1000',
    // The watched channel's history is full before the heap is first measured, so the only heap
    // the flood can add is the names'.
    HISTORY_SIZE: '20',
  });
  bus = new MemoryBus({ history: historyPolicyFor(config.namespaces) });
  gateway = await startGateway({ config, bus, logger: createLogger({ level: 'silent', service: 'gateway', node: 'gw-abuse' }) });
});
after(async () => {
  watcher?.stop();
  await gateway?.close();
  await bus?.close();
});

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * The heap after a full GC once it holds still. node:test keeps an entry for every async resource
 * a test creates until that resource's destroy hook runs, on a later turn of the event loop: right
 * after a flood that is tens of thousands of entries, megabytes that say nothing about the gateway.
 * So: yield to the event loop and measure again until two measurements agree within 64 KiB.
 */
async function settledHeap(): Promise<number> {
  let last = heapAfterGc();
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    const now = heapAfterGc();
    if (Math.abs(now - last) < 64 * KiB) return now;
    last = now;
  }
  return last;
}

async function touch(tag: string, names: number): Promise<void> {
  const url = `ws://127.0.0.1:${gateway.port}/ws`;
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => CommandClient.connect(url)));
  const per = names / CLIENTS;
  await Promise.all(
    clients.map((c, k) =>
      c.lockstep(
        Array.from({ length: per }, (_, i) => [
          { op: 'subscribe', id: i, channel: `made-${tag}-${k}:n${i}` },
          { op: 'unsubscribe', id: i, channel: `made-${tag}-${k}:n${i}` },
        ]).flat(),
        1000,
        () => c.n('subscribed') + c.n('unsubscribed') + c.n('error'),
      ),
    ),
  );
  for (const c of clients) assert.deepEqual({ subscribed: c.n('subscribed'), unsubscribed: c.n('unsubscribed'), errors: [...c.errors] }, { subscribed: per, unsubscribed: per, errors: [] });
  for (const c of clients) c.close();
}

it(`${NAMES.toLocaleString('en')} made-up channel names, subscribed and let go, leave no state and no heap behind`, async () => {
  // The watcher's publisher goes through the bus, as the producer would; it is the one connection
  // and the one channel (hub and bus) left once the flood is over.
  watcher = await Watcher.start({ ws: `ws://127.0.0.1:${gateway.port}/ws`, publish: async (p) => bus.publish(p.channel, JSON.stringify(p.data)) });
  // The clients' closes reach the gateway after touch() returns; their connections are heap too.
  const settled = (): Promise<boolean> =>
    waitFor('every flooding connection closed and every made-up channel let go', () => {
      const hub = gateway.hub.stats();
      return hub.connections === 1 && hub.channels === 1 && bus.channelCount === 1;
    });
  await touch('warm', 10_000);
  await settled();
  const baseline = await watcher.baseline();
  const before = await settledHeap();
  const floodStart = Date.now();
  const seenBefore = watcher.offsets.length;
  await touch('flood', NAMES);
  await settled();
  const floodMs = Date.now() - floodStart;
  const duringFlood = watcher.offsets.length - seenBefore;
  const after = await settledHeap();
  const perName = (after - before) / NAMES;
  const health = await watcher.check();
  const made = (n: number): number => n - 1; // all but the watcher's channel
  console.log(
    `finding 1: ${NAMES} made-up names: heap after GC ${(before / KiB).toFixed(0)} → ${(after / KiB).toFixed(0)} KiB (${perName.toFixed(1)} bytes per name, bound 128; a bus that kept each name took 274); ` +
      `made-up channels left: hub ${made(gateway.hub.stats().channels)}, memory bus ${made(bus.channelCount)}; the flood took ${floodMs} ms; watcher ${duringFlood} publications during it and ${health.got} since its baseline, ` +
      `${health.consecutive ? 'consecutive offsets' : 'A GAP'}, p99 ${health.p99Ms} ms (${baseline.p99Ms} ms before; not bounded here: the flood's clients and the publisher share this process with the gateway)`,
  );
  assert.equal(made(gateway.hub.stats().channels), 0);
  assert.equal(made(bus.channelCount), 0);
  assert.ok(perName < 128, `${perName.toFixed(1)} bytes of heap per name`);
  assert.ok(baseline.open && baseline.consecutive, `the watcher before the flood: ${JSON.stringify(baseline)}`);
  assert.ok(health.open && health.consecutive && health.got >= 5, `the watcher during the flood: ${JSON.stringify(health)}`);
  assert.ok(duringFlood > 0, 'the watcher got publications during the flood');
});
