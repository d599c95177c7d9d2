import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BusConfig } from '../src/config.js';
import type { RedisBus } from '../src/redis-bus.js';
import { DEFAULT_TIMEOUTS } from '../src/redis/options.js';
import { RedisServer } from '@megaphone/testing';
import { waitFor } from '@megaphone/testing';
import { Recorder, publishWhenUp, redisBus, standaloneConfig } from './redis-helpers.js';

/** The documented bound for replacing a hung connection (docs/architecture.md). */
const HUNG_BOUND_MS = DEFAULT_TIMEOUTS.pingIntervalMs + DEFAULT_TIMEOUTS.pingTimeoutMs;

describe('RedisBus on standalone Redis under faults', () => {
  let server: RedisServer;
  let config: BusConfig;
  let publisher: RedisBus;
  let subscriber: RedisBus;
  let rec: Recorder;
  let n = 0;
  /** What the subscriber node's bus reported through its metrics hooks. */
  let metrics: { reconnects: number; resubscribes: { seconds: number; channels: number }[]; connected: boolean[] };

  before(async () => {
    server = await RedisServer.start();
    config = standaloneConfig(server.url);
  });
  after(async () => {
    await publisher?.close();
    await subscriber?.close();
    await server.close();
  });

  async function freshNodes(): Promise<string> {
    await publisher?.close();
    await subscriber?.close();
    metrics = { reconnects: 0, resubscribes: [], connected: [] };
    const m = metrics;
    publisher = await redisBus(config, undefined, { clientName: 'pub' });
    subscriber = await redisBus(config, undefined, {
      clientName: 'sub node',
      metrics: {
        reconnected: () => void m.reconnects++,
        resubscribed: (seconds, channels) => void m.resubscribes.push({ seconds, channels }),
        connected: (up) => void m.connected.push(up),
      },
    });
    rec = new Recorder(subscriber);
    const channel = `t:${++n}`;
    await subscriber.subscribe(channel);
    return channel;
  }

  it('resubscribes after CLIENT KILL TYPE pubsub, tells the node, and delivers what is published afterwards', async () => {
    const ch = await freshNodes();
    await publisher.publish(ch, '1');
    await waitFor('the first publication', () => rec.on(ch).length === 1);
    assert.notEqual(await server.cli('CLIENT', 'KILL', 'TYPE', 'pubsub'), '0');
    await waitFor('resubscribed', () => rec.resubscribed.length === 1);
    assert.deepEqual(rec.resubscribed[0], [ch]);
    assert.deepEqual(rec.readiness.map((r) => r.ready), [false, true]);
    assert.equal(subscriber.isReady(), true);
    assert.deepEqual(metrics.connected, [true, false, true], 'megaphone_bus_connected hook');
    assert.equal(metrics.reconnects, 1, 'megaphone_bus_reconnects_total hook: the subscriber connection came back once');
    assert.equal(metrics.resubscribes.length, 1);
    assert.equal(metrics.resubscribes[0]!.channels, 1);
    assert.ok(metrics.resubscribes[0]!.seconds >= 0 && metrics.resubscribes[0]!.seconds < 10);
    await publisher.publish(ch, '2');
    await waitFor('the publication after the kill', () => rec.on(ch).length === 2);
    assert.deepEqual(rec.on(ch).map((p) => p.offset), [1, 2]);
  });

  it('after kill -9 and an empty restart: readiness drops and returns, the epoch changes, publishing and delivery resume', async () => {
    const ch = await freshNodes();
    const before = await publisher.publish(ch, '1');
    await waitFor('the first publication', () => rec.on(ch).length === 1);
    await server.kill();
    await waitFor('the subscriber to become not ready', () => !subscriber.isReady());
    await assert.rejects(publisher.publish(ch, '2'), { name: 'BusUnavailableError' });
    await server.restart();
    await waitFor('the subscriber to become ready again', () => subscriber.isReady());
    await waitFor('resubscribed', () => rec.resubscribed.some((c) => c.includes(ch)));
    const afterRestart = await publishWhenUp(publisher, ch, '3');
    assert.notEqual(afterRestart.epoch, before.epoch, 'a Redis that lost its data gives the channel a new epoch');
    assert.equal(afterRestart.offset, 1);
    await waitFor('the publication after the restart', () => rec.on(ch).length === 2);
    assert.deepEqual(rec.on(ch).map((p) => [p.epoch, p.offset]), [[before.epoch, 1], [afterRestart.epoch, 1]]);
    assert.equal(rec.readiness[0]?.ready, false);
    assert.equal(rec.readiness.at(-1)?.ready, true);
    const h = await subscriber.history(ch, { since: { epoch: before.epoch, offset: 1 } });
    assert.deepEqual({ recovered: h.recovered, epoch: h.epoch }, { recovered: false, epoch: afterRestart.epoch });
  });

  it('replaces connections to a SIGSTOPped Redis within the detection bound and recovers after SIGCONT', async () => {
    const ch = await freshNodes();
    const first = await publisher.publish(ch, '1');
    await waitFor('the first publication', () => rec.on(ch).length === 1);
    const stoppedAt = Date.now();
    server.pause();
    try {
      await waitFor('the subscriber to notice the hung server', () => !subscriber.isReady(), { timeoutMs: HUNG_BOUND_MS + 2000 });
      assert.ok(Date.now() - stoppedAt <= HUNG_BOUND_MS + 1000, `noticed after ${Date.now() - stoppedAt} ms`);
      await waitFor('the publisher to notice the hung server', () => !publisher.isReady(), { timeoutMs: 2000 });
      await sleep(500); // the fault's length, not a wait: the replacement connections meet a hung server too
    } finally {
      server.resume();
    }
    await waitFor('the subscriber to be ready again', () => subscriber.isReady());
    await waitFor('resubscribed', () => rec.resubscribed.some((c) => c.includes(ch)));
    const pos = await publishWhenUp(publisher, ch, '2');
    assert.deepEqual(pos, { epoch: first.epoch, offset: 2 }, 'Redis kept its data, so the channel keeps its epoch');
    await waitFor('a publication after SIGCONT', () => rec.on(ch).some((p) => p.offset === pos.offset));
  });

  it('connects again when ioredis ends a connection for good (both the subscriber and the command connection)', async () => {
    const ch = await freshNodes();
    // Reach into the bus: ending a connection (status "end") is what ioredis does on some
    // Sentinel reconnect races; there is no public way to provoke it.
    const internals = subscriber as unknown as { cmd: { disconnect(): void }; subscriptions: { subscribers: Map<string, { conn: { disconnect(): void } }> } };
    const sub = internals.subscriptions.subscribers.get('main');
    assert.ok(sub, 'RedisBus keeps its standalone subscriber under "main" (test reaches into it)');
    sub.conn.disconnect();
    internals.cmd.disconnect();
    await waitFor('not ready after the connections ended', () => !subscriber.isReady(), { timeoutMs: 2000 });
    await waitFor('ready again', () => subscriber.isReady(), { timeoutMs: 10_000 });
    await waitFor('resubscribed', () => rec.resubscribed.some((c) => c.includes(ch)));
    const pos = await publishWhenUp(subscriber, ch, '1');
    await waitFor('its own publication', () => rec.on(ch).some((p) => p.offset === pos.offset));
  });

  it('is cut by Redis at its pub/sub output-buffer limit while not reading, then reconnects and resubscribes', async () => {
    const ch = await freshNodes();
    // Redis 7.0 has no stat for it, but logs every client it closes for its output-buffer limit.
    const cuts = (): number => server.logTail(100_000).split('overcoming of output buffer limits').length - 1;
    const before = cuts();
    await server.cli('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 64kb 32kb 1');
    try {
      // Reach into the bus to stop reading its subscriber socket: there is no public way to make a node slow.
      const internals = subscriber as unknown as { subscriptions: { subscribers: Map<string, { conn: { stream: { pause(): void; resume(): void } } }> } };
      const stream = internals.subscriptions.subscribers.get('main')?.conn.stream;
      assert.ok(stream, 'RedisBus keeps its standalone subscriber under "main" (test reaches into it)');
      stream.pause();
      // Kernel socket buffers absorb a few MB first; publish until Redis reports the cut.
      const big = JSON.stringify('x'.repeat(32 * 1024));
      let published = 0;
      while (cuts() === before && published < 600) {
        await Promise.all(Array.from({ length: 20 }, () => publisher.publish(ch, big)));
        published += 20;
      }
      assert.ok(cuts() > before, `Redis cut the subscriber (after ${published} publications)`);
      stream.resume();
      await waitFor('resubscribed', () => rec.resubscribed.some((c) => c.includes(ch)));
      await waitFor('the subscriber to be ready again', () => subscriber.isReady());
      const received = rec.on(ch).length;
      assert.ok(received < published, 'publications were lost to the cut (the node fills them from history)');
      const pos = await publisher.publish(ch, '"after"');
      await waitFor('a publication after the reconnect', () => rec.on(ch).some((p) => p.offset === pos.offset));
      const h = await subscriber.history(ch, { since: { epoch: pos.epoch, offset: 0 } });
      assert.equal(h.recovered, true, 'history still covers everything the cut lost');
      assert.equal(h.publications.length, published + 1);
    } finally {
      await server.cli('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 32mb 8mb 60');
    }
  });
});

describe('RedisBus over TLS', () => {
  it('refuses a server whose certificate it cannot verify (no CA configured), and stays not ready', async () => {
    const server = await RedisServer.start({ tls: true });
    try {
      const bus = await redisBus(standaloneConfig(server.url), undefined, { startTimeoutMs: 1500 });
      try {
        assert.equal(bus.isReady(), false);
        await assert.rejects(bus.publish('t:x', '1'), { name: 'BusUnavailableError' });
      } finally {
        await bus.close();
      }
    } finally {
      await server.close();
    }
  });
});
