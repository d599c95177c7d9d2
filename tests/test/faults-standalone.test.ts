import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisServer } from '@megaphone/testing';
import { Cluster } from '../src/cluster/fixture.js';
import { FaultProxy } from '../src/cluster/fault-proxy.js';
import { publishThroughFault, summarize } from '../src/cluster/fault-run.js';
import type { FaultOutcome } from '../src/cluster/fault-run.js';
import { RecordingClient } from '../src/cluster/recording-client.js';
import { checkStream } from '../src/cluster/stream-check.js';
import { sleep, waitFor } from '../src/cluster/wait.js';

/** The RedisBus PINGs every connection each second and gives up after 1.5 s without a reply. */
const DETECTION_BOUND_MS = 2500;

function epochsSeen(outcome: FaultOutcome): Set<string>[] {
  return outcome.clients.map((c) => {
    const epochs = new Set<string>();
    for (const e of c.channelEvents(outcome.channel)) if (e.kind === 'subscribed' || e.kind === 'gap') epochs.add(e.epoch);
    return epochs;
  });
}

// gw-1 reaches Redis through a fault proxy; gw-2, gw-3 and the producer connect directly.
describe('delivery through Redis and network faults (standalone Redis, 3 gateways)', { timeout: 400_000 }, () => {
  let redis: RedisServer;
  let proxy: FaultProxy;
  let cluster: Cluster;

  before(async () => {
    redis = await RedisServer.start();
    proxy = await FaultProxy.start(redis.port);
    cluster = await Cluster.start({ REDIS_URL: redis.url }, { gatewayRedis: (i) => ({ REDIS_URL: i === 0 ? proxy.url : redis.url }) });
  });

  after(async () => {
    await cluster?.stop();
    await proxy?.close();
    await redis?.close();
  });

  test('CLIENT KILL TYPE pubsub: every gateway resubscribes and fills what it missed', async (t) => {
    const outcome = await publishThroughFault(cluster, 'client-kill', async () => {
      const killed = Number(await redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub'));
      assert.ok(killed >= 3, `killed ${killed} pub/sub connections, expected one per gateway`);
      await sleep(500);
    }, { expectReconnect: [0, 1, 2] });
    t.diagnostic(summarize(outcome));
    assert.equal(outcome.notices, 0, 'history covers this fault: every hole is filled, none announced as lost');
  });

  test('a TCP reset between a gateway and Redis: it reconnects and fills the hole from history', async (t) => {
    const outcome = await publishThroughFault(cluster, 'tcp-reset', async () => {
      assert.ok(proxy.connections > 0, 'gw-1 talks to Redis through the proxy');
      proxy.reset();
      await sleep(500);
      proxy.reset();
      await sleep(500);
    }, { expectReconnect: [0] });
    t.diagnostic(summarize(outcome));
    assert.equal(outcome.notices, 0, 'history covers this fault: every hole is filled, none announced as lost');
  });

  test('a hung Redis connection (no FIN, no RST) is detected and replaced while the old one stays hung', async (t) => {
    const acceptedBefore = proxy.accepted;
    const outcome = await publishThroughFault(cluster, 'hang', async () => {
      proxy.hang();
      const frozen = proxy.frozen;
      assert.ok(frozen > 0, 'gw-1 had connections to freeze');
      // The old connections stay frozen until the end: only detection can get gw-1 going again.
      await waitFor('gw-1 to open new Redis connections', () => proxy.accepted > acceptedBefore, { timeoutMs: DETECTION_BOUND_MS * 4 });
    }, { expectReconnect: [0] });
    t.diagnostic(summarize(outcome));
    assert.equal(outcome.notices, 0, 'history covers this fault: every hole is filled, none announced as lost');
    proxy.heal({ dropFrozen: true });
  });

  test('a blackhole between a gateway and Redis (new connections hang too), then healed', async (t) => {
    const outcome = await publishThroughFault(cluster, 'blackhole', async () => {
      proxy.blackhole();
      await sleep(DETECTION_BOUND_MS * 2);
      proxy.heal();
    }, { expectReconnect: [0] });
    t.diagnostic(summarize(outcome));
    assert.equal(outcome.notices, 0, 'history covers this fault: every hole is filled, none announced as lost');
  });

  test('Redis stopped (SIGSTOP) longer than the detection bound, then continued', async (t) => {
    const outcome = await publishThroughFault(cluster, 'sigstop', async () => {
      redis.pause();
      await sleep(DETECTION_BOUND_MS * 2);
      redis.resume();
    }, { expectReconnect: [0, 1, 2] });
    t.diagnostic(summarize(outcome));
    assert.equal(outcome.notices, 0, 'history covers this fault: every hole is filled, none announced as lost');
  });

  test('Redis cutting a stalled gateway at its pub/sub output-buffer limit', async (t) => {
    await redis.cli('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 256kb 128kb 1');
    const stalled = cluster.gateways[1]!;
    try {
      const outcome = await publishThroughFault(cluster, 'output-buffer', async ({ channel, log }) => {
        stalled.signal('SIGSTOP');
        try {
          const big = 'x'.repeat(16 * 1024);
          // ~6 MB: more than the kernel's socket buffers plus the 256 kB limit.
          for (let i = 0; i < 400; i++) {
            const data = { bulk: i, big };
            log.add(await cluster.api.publishOne(channel, data), data);
            if (i % 50 === 49 && /output buffer limits/.test(redis.logTail(200))) break;
          }
          await waitFor('Redis to disconnect the stalled subscriber', () => /output buffer limits/.test(redis.logTail(200)), { timeoutMs: 10_000 });
        } finally {
          stalled.signal('SIGCONT');
        }
      }, { expectReconnect: [1] });
      t.diagnostic(summarize(outcome));
      assert.equal(outcome.notices, 0, 'history covers this fault: every hole is filled, none announced as lost');
    } finally {
      await redis.cli('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 32mb 8mb 60');
    }
  });

  test('Redis killed (kill -9) and restarted empty: the epoch change reaches every client explicitly', async (t) => {
    // A client that is away during the reset must learn of it when it comes back.
    const away = new RecordingClient('away');
    cluster.clients.push(away);
    await away.connect(cluster.gateways[0]!.wsUrl);
    const awayChannel = 'fault-kill9';
    await away.subscribe(awayChannel);
    const outcome = await publishThroughFault(cluster, 'kill9', async () => {
      assert.ok(away.messages(awayChannel).length > 0, 'the away client saw the first publications');
      await away.close();
      await redis.kill();
      await sleep(1000);
      await redis.restart();
    }, { expectReconnect: [0, 1, 2] });
    t.diagnostic(summarize(outcome));
    const epochs = epochsSeen(outcome);
    for (const [i, c] of outcome.clients.entries()) {
      const report = checkStream(c.channelEvents(outcome.channel));
      assert.ok(epochs[i]!.size >= 2, `${c.name} saw epochs ${[...epochs[i]!].join(', ')}`);
      assert.ok(report.notices >= 1, `${c.name} was told about the reset`);
      assert.equal(report.position?.epoch, outcome.log.last.get(outcome.channel)?.epoch);
    }
    const stoodAt = away.position(awayChannel)!;
    await away.resumeOn(cluster.gateways[1]!.wsUrl);
    const back = away.channelEvents(awayChannel).at(-1);
    assert.ok(back?.kind === 'subscribed' && back.recovered === false, `resuming from ${JSON.stringify(stoodAt)} after the reset: ${JSON.stringify(back)}`);
    assert.equal(back.epoch, outcome.log.last.get(outcome.channel)?.epoch, 'the reply names the new epoch');
    assert.deepEqual(checkStream(away.channelEvents(awayChannel)).problems, []);
  });

  test('a gateway killed with kill -9: its clients resume on the other gateways without loss', async (t) => {
    const victim = cluster.gateways[2]!;
    const outcome = await publishThroughFault(cluster, 'gateway-kill', async () => {
      await victim.kill9();
      await sleep(1000);
    }, { expectReconnect: [] });
    t.diagnostic(summarize(outcome));
    assert.equal(outcome.notices, 0, 'history covers this fault: every hole is filled, none announced as lost');
    const movedReaders = outcome.readers.filter((r) => r.closes.some((x) => x.node === 'gw-3'));
    assert.equal(movedReaders.length, 1, 'the SSE reader of gw-3 lost its stream');
    for (const r of movedReaders) {
      assert.notEqual(r.connectedNode, 'gw-3');
      assert.equal(checkStream(r.channelEvents(outcome.channel)).notices, 0, `${r.name} lost nothing after Last-Event-ID`);
    }
    const moved = outcome.clients.filter((c) => c.closes.some((x) => x.node === 'gw-3'));
    assert.ok(moved.length >= 2, 'the clients of gw-3 lost their connection');
    for (const c of moved) {
      assert.notEqual(c.connectedNode, 'gw-3');
      const resumes = c.channelEvents(outcome.channel).filter((e) => e.kind === 'subscribed' && e.since);
      assert.ok(resumes.length >= 1 && resumes.every((e) => e.kind === 'subscribed' && e.recovered === true), `${c.name} resumed with since and recovered: ${JSON.stringify(resumes)}`);
      assert.equal(checkStream(c.channelEvents(outcome.channel)).notices, 0, `${c.name} lost nothing`);
    }
  });

  test('a gateway drained with SIGTERM closes its clients with 1001 and they resume on the others without loss', async (t) => {
    const victim = cluster.gateways[1]!;
    let exited = false;
    const outcome = await publishThroughFault(cluster, 'drain', async () => {
      victim.signal('SIGTERM');
      // GATEWAY_DRAIN_MS is 500 in these tests: the process is gone well before any orchestrator's grace.
      exited = await victim.waitExit(10_000);
    }, { expectReconnect: [], on: [0, 1] });
    t.diagnostic(summarize(outcome));
    assert.equal(outcome.notices, 0, 'history covers this fault: every hole is filled, none announced as lost');
    assert.ok(exited, `gw-2 exited after draining\n${victim.tail()}`);
    const movedReader = outcome.readers.find((r) => r.closes.some((x) => x.node === 'gw-2'));
    assert.ok(movedReader && movedReader.connectedNode !== 'gw-2', 'the SSE reader of gw-2 moved');
    assert.equal(checkStream(movedReader.channelEvents(outcome.channel)).notices, 0, 'the SSE reader lost nothing');
    const moved = outcome.clients.filter((c) => c.closes.some((x) => x.node === 'gw-2'));
    assert.ok(moved.length >= 1, 'gw-2 had clients');
    for (const c of moved) {
      assert.deepEqual(c.closes.filter((x) => x.node === 'gw-2').map((x) => x.code), [1001], `${c.name} was told the gateway is going away`);
      assert.notEqual(c.connectedNode, 'gw-2');
      assert.equal(checkStream(c.channelEvents(outcome.channel)).notices, 0, `${c.name} lost nothing`);
    }
  });
});
