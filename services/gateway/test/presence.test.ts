import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CONTROL_MESSAGE_BYTES, MemoryBus, type Bus } from '@megaphone/bus';
import { createLogger } from '@megaphone/runtime';
import { decodeControl, type ControlMessage } from '../src/operator/control.js';
import { ClusterPresence, PRESENCE_TTL_INTERVALS } from '../src/operator/presence.js';

const INTERVAL = 1000;
const logger = createLogger({ level: 'silent', service: 'test', node: 'test' });
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** One simulated gateway: its local counts, its presence table, listening on a shared bus. */
class Node {
  readonly local = new Map<string, number>();
  readonly presence: ClusterPresence;
  constructor(
    readonly name: string,
    bus: Bus,
    clock: () => number = Date.now,
  ) {
    this.presence = new ClusterPresence({
      bus,
      node: name,
      boot: `${name}-boot`,
      intervalMs: INTERVAL,
      local: () => this.local.entries(),
      localOf: (ch) => this.local.get(ch) ?? 0,
      logger,
      now: clock,
    });
    void bus.listenControl((text) => {
      const m = decodeControl(text);
      if (m !== undefined && m.t !== 'disconnect') this.presence.receive(m);
    });
  }
}

/** Every control message on the bus, decoded. */
async function record(bus: Bus): Promise<ControlMessage[]> {
  const seen: ControlMessage[] = [];
  await bus.listenControl((text) => seen.push(decodeControl(text)!));
  return seen;
}

const history = () => ({ size: 0, ttlMs: 1000 });

test('a gateway reports everything first, then only what changed, and a heartbeat when nothing did', async () => {
  const bus = new MemoryBus({ history });
  const seen = await record(bus);
  const a = new Node('gw-a', bus);
  a.local.set('cmd:x', 2).set('uptime', 1);
  await a.presence.tick();
  a.local.set('cmd:x', 3);
  a.local.delete('uptime');
  await a.presence.tick();
  await a.presence.tick();
  await turn();
  const reports = seen.filter((m) => m.t === 'presence');
  assert.deepEqual(
    reports.map((m) => (m.t === 'presence' ? { seq: m.seq, reset: m.reset ?? false, counts: m.counts } : undefined)),
    [
      { seq: 1, reset: true, counts: { 'cmd:x': 2, uptime: 1 } },
      { seq: 2, reset: false, counts: { 'cmd:x': 3, uptime: 0 } },
      { seq: 3, reset: false, counts: {} },
    ],
  );
});

test('two gateways agree on the cluster-wide counts', async () => {
  const bus = new MemoryBus({ history });
  const a = new Node('gw-a', bus);
  const b = new Node('gw-b', bus);
  a.local.set('cmd:build', 2).set('uptime', 5);
  b.local.set('cmd:build', 3);
  await Promise.all([a.presence.tick(), b.presence.tick()]);
  await turn();
  for (const n of [a, b]) {
    assert.equal(n.presence.subscribers('cmd:build'), 5, n.name);
    assert.deepEqual(n.presence.channel('cmd:build'), { channel: 'cmd:build', subscribers: 5, nodes: { 'gw-a': 2, 'gw-b': 3 } });
    const all = n.presence.channels('', 10).map((c) => `${c.channel}=${c.subscribers}`);
    assert.deepEqual(all.sort(), ['cmd:build=5', 'uptime=5']);
    assert.deepEqual(n.presence.channels('cmd:', 10).map((c) => c.channel), ['cmd:build']);
  }
  b.local.delete('cmd:build');
  await b.presence.tick();
  await turn();
  assert.deepEqual(a.presence.channel('cmd:build').nodes, { 'gw-a': 2 });
});

test(`a gateway that stops reporting drops out after ${PRESENCE_TTL_INTERVALS} intervals`, async () => {
  const bus = new MemoryBus({ history });
  let now = 1_000_000;
  const a = new Node('gw-a', bus, () => now);
  const b = new Node('gw-b', bus, () => now);
  b.local.set('cmd:x', 4);
  await b.presence.tick();
  await turn();
  assert.equal(a.presence.subscribers('cmd:x'), 4);
  assert.equal(a.presence.peerCount(), 1);
  now += PRESENCE_TTL_INTERVALS * INTERVAL;
  assert.equal(a.presence.subscribers('cmd:x'), 4, 'still within the TTL');
  assert.equal(a.presence.reportAgeSeconds(), (PRESENCE_TTL_INTERVALS * INTERVAL) / 1000);
  now += 1;
  assert.equal(a.presence.subscribers('cmd:x'), 0);
  assert.equal(a.presence.peerCount(), 0);
  assert.equal(a.presence.reportAgeSeconds(), 0);
});

test('a lost report shows as a sequence gap and is repaired by a full report', async () => {
  const bus = new MemoryBus({ history });
  let drop = false;
  const lossy: Bus = Object.assign(Object.create(bus) as Bus, {
    publishControl: (m: string) => (drop ? Promise.resolve() : bus.publishControl(m)),
  });
  const a = new Node('gw-a', bus);
  const b = new Node('gw-b', lossy);
  b.local.set('cmd:x', 1);
  await b.presence.tick();
  await turn();
  b.local.set('cmd:x', 7).set('cmd:y', 2);
  drop = true;
  await b.presence.tick(); // lost on the way
  drop = false;
  await b.presence.tick(); // a heartbeat with a gap in seq: A asks B for everything
  await turn();
  assert.equal(a.presence.subscribers('cmd:x'), 1, 'the lost change is not known yet');
  await b.presence.tick();
  await turn();
  assert.deepEqual(a.presence.channel('cmd:x').nodes, { 'gw-b': 7 });
  assert.deepEqual(a.presence.channel('cmd:y').nodes, { 'gw-b': 2 });
});

test('a gateway that joins learns every count from the others at their next report', async () => {
  const bus = new MemoryBus({ history });
  const a = new Node('gw-a', bus);
  a.local.set('cmd:x', 3);
  await a.presence.tick();
  await a.presence.tick();
  const c = new Node('gw-c', bus);
  c.presence.start();
  try {
    await turn();
    await a.presence.tick();
    await turn();
    assert.deepEqual(c.presence.channel('cmd:x').nodes, { 'gw-a': 3 });
  } finally {
    c.presence.stop();
  }
});

test('a report of 10,000 channels is split into control messages under the size limit', async () => {
  const bus = new MemoryBus({ history });
  const seen: string[] = [];
  await bus.listenControl((m) => seen.push(m));
  const a = new Node('gw-a', bus);
  const b = new Node('gw-b', bus);
  for (let i = 0; i < 10_000; i++) a.local.set(`cmd:${'j'.repeat(100)}-${i}`, 1 + (i % 7));
  await a.presence.tick();
  await turn();
  const reports = seen.filter((m) => m.includes('"t":"presence"'));
  assert.ok(reports.length > 1, 'split');
  for (const r of reports) assert.ok(Buffer.byteLength(r) < MAX_CONTROL_MESSAGE_BYTES, `${Buffer.byteLength(r)} bytes`);
  const top = b.presence.channels('cmd:', 3);
  assert.deepEqual(top.map((t) => t.subscribers), [7, 7, 7]);
  assert.equal(b.presence.channels('', 1000).length, 1000);
});
