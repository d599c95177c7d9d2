import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisServer } from '@megaphone/testing';
import { Cluster } from '../src/cluster/fixture.js';
import { RecordingClient } from '../src/cluster/recording-client.js';
import { SseRecorder } from '../src/cluster/sse-recorder.js';
import { PublishLog, checkStream, describe as describeStream, expectAllCaughtUp } from '../src/cluster/stream-check.js';
import { subscriptionsFor } from '../src/cluster/redis-subscriptions.js';
import { waitFor } from '../src/cluster/wait.js';

// One Redis, one producer and three gateways, each a real process, shared by the tests below.
describe('a producer and three gateways on standalone Redis', { timeout: 180_000 }, () => {
  let redis: RedisServer;
  let cluster: Cluster;

  before(async () => {
    redis = await RedisServer.start();
    cluster = await Cluster.start({ REDIS_URL: redis.url });
  });

  after(async () => {
    await cluster?.stop();
    await redis?.close();
  });

  test('30 clients spread over 3 gateways each get 300 publications in order, over one Redis subscription per gateway', async () => {
    const channel = 'fanout';
    const clients = await cluster.connectClients(30, [channel]);
    assert.deepEqual(new Set(clients.map((c) => c.connectedNode)), new Set(['gw-1', 'gw-2', 'gw-3']));
    const log = new PublishLog();
    for (let seq = 1; seq <= 300; seq++) {
      const data = { seq, text: `publication ${seq}` };
      log.add(await cluster.api.publishOne(channel, data), data);
    }
    await expectAllCaughtUp(clients, channel, log);
    for (const c of clients) {
      const seqs = c.messages(channel).map((m) => (m.data as { seq: number }).seq);
      assert.deepEqual(seqs, Array.from({ length: 300 }, (_, i) => i + 1), c.name);
    }
    const subs = await subscriptionsFor(redis, channel);
    const clientList = subs.redisChannels.length === 1 ? '' : await redis.cli('CLIENT', 'LIST');
    assert.equal(subs.redisChannels.length, 1, `Redis channels carrying ${channel}: ${JSON.stringify(subs)}\n${clientList}`);
    assert.deepEqual(subs.counts, [3], `one subscription per gateway for 30 clients: ${JSON.stringify(subs)}`);
  });

  test('a client that leaves gateway 1 and resumes on gateway 3 with since gets exactly what it missed, then live', async () => {
    const channel = 'resume';
    const log = new PublishLog();
    const publish = async (from: number, to: number) => {
      for (let seq = from; seq <= to; seq++) log.add(await cluster.api.publishOne(channel, { seq }), { seq });
    };
    await publish(1, 5);
    const client = new RecordingClient('roamer');
    cluster.clients.push(client);
    await client.connect(cluster.gateways[0]!.wsUrl);
    assert.equal(client.connectedNode, 'gw-1');
    await client.subscribe(channel);
    await publish(6, 25);
    await waitFor('the first 20 live publications', () => client.position(channel)?.offset === log.last.get(channel)!.offset);
    const before = client.messages(channel).length;
    const left = client.position(channel)!;
    await client.close();

    await publish(26, 60);
    await client.resumeOn(cluster.gateways[2]!.wsUrl);
    assert.equal(client.connectedNode, 'gw-3');
    const resumed = client.channelEvents(channel).filter((e) => e.kind === 'subscribed').at(-1);
    assert.equal(resumed?.kind === 'subscribed' && resumed.recovered, true, JSON.stringify(resumed));
    await publish(61, 70);
    await expectAllCaughtUp([client], channel, log);
    const after = client.messages(channel).slice(before);
    assert.deepEqual(
      after.map((m) => m.offset),
      Array.from({ length: 45 }, (_, i) => left.offset + 1 + i),
      'the 35 missed publications then the 10 live ones, each once',
    );
    assert.deepEqual(after.map((m) => (m.data as { seq: number }).seq), Array.from({ length: 45 }, (_, i) => 26 + i));
    assert.deepEqual(new Set(after.map((m) => m.node)), new Set(['gw-3']));
  });

  test("a job's output reaches clients on every gateway in order", async () => {
    const channel = 'cmd:lines';
    const clients = await cluster.connectClients(6, [channel, 'jobs'], { prefix: 'job-watcher' });
    const started = await cluster.api.startRun('lines');
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assert.ok(started.run, JSON.stringify(started.body));
    const exited = (c: RecordingClient) =>
      c.messages(channel).some((m) => (m.data as { event?: string; run?: string }).event === 'exited' && (m.data as { run?: string }).run === started.run);
    await waitFor('every client to see the run exit', () => clients.every(exited), { timeoutMs: 30_000 }).catch((err: Error) => {
      throw new Error(`${err.message}\n${clients.map((c) => describeStream(c, channel, checkStream(c.channelEvents(channel)))).join('\n')}\n${cluster.tails()}`);
    });
    const expected = Array.from({ length: 200 }, (_, i) => `line-${i + 1}`);
    for (const c of clients) {
      const report = checkStream(c.channelEvents(channel));
      assert.deepEqual(report.problems, [], describeStream(c, channel, report));
      assert.equal(report.notices, 0, describeStream(c, channel, report));
      const data = c.messages(channel).map((m) => m.data as { run?: string; stream?: string; lines?: string[]; event?: string });
      const ofRun = data.filter((d) => d.run === started.run);
      assert.equal(ofRun[0]?.event, 'started', `${c.name}: first message of the run is its start`);
      assert.equal(ofRun.at(-1)?.event, 'exited', `${c.name}: last message of the run is its exit`);
      const lines = ofRun.filter((d) => d.stream === 'stdout').flatMap((d) => d.lines ?? []);
      assert.deepEqual(lines, expected, `${c.name} on ${c.connectedNode}`);
      const lifecycle = c.messages('jobs').map((m) => m.data as { run?: string; event?: string; job?: string }).filter((d) => d.run === started.run);
      assert.deepEqual(lifecycle.map((d) => [d.job, d.event]), [['lines', 'started'], ['lines', 'exited']], `${c.name} on the jobs channel`);
    }
  });

  test('SSE readers on every gateway get every publication; one dropped on gateway 1 resumes on gateway 2 with Last-Event-ID without loss', async () => {
    const channels = ['sse-a', 'sse-b'];
    const readers = cluster.gateways.map((_, i) => new SseRecorder(`sse-${i + 1}`, channels));
    try {
      await Promise.all(readers.map((r, i) => r.connect(cluster.gateways[i]!.httpUrl)));
      assert.deepEqual(readers.map((r) => r.connectedNode), ['gw-1', 'gw-2', 'gw-3']);
      await waitFor('every SSE subscription to be live', () => readers.every((r) => channels.every((c) => r.channelEvents(c).length > 0)));
      const logs = new Map(channels.map((c) => [c, new PublishLog()]));
      const publish = async (from: number, to: number) => {
        for (let seq = from; seq <= to; seq++) {
          for (const c of channels) logs.get(c)!.add(await cluster.api.publishOne(c, { seq, c }), { seq, c });
        }
      };
      await publish(1, 40);
      for (const c of channels) await expectAllCaughtUp(readers, c, logs.get(c)!);
      const dropped = readers[0]!;
      dropped.disconnect();
      await publish(41, 80);
      await dropped.connect(cluster.gateways[1]!.httpUrl, { resume: true });
      assert.equal(dropped.connectedNode, 'gw-2');
      await publish(81, 100);
      for (const c of channels) {
        await expectAllCaughtUp(readers, c, logs.get(c)!);
        const resumed = dropped.channelEvents(c).filter((e) => e.kind === 'subscribed').at(-1);
        assert.ok(resumed?.kind === 'subscribed' && resumed.since && resumed.recovered === true, `${c}: ${JSON.stringify(resumed)}`);
        assert.deepEqual(dropped.messages(c).map((m) => (m.data as { seq: number }).seq), Array.from({ length: 100 }, (_, i) => i + 1), c);
      }
    } finally {
      readers.forEach((r) => r.disconnect());
    }
  });
});
