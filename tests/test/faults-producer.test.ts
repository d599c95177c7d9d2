import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisServer } from '@megaphone/testing';
import { Cluster } from '../src/cluster/fixture.js';
import { RecordingClient } from '../src/cluster/recording-client.js';
import { checkStream, describe as describeStream } from '../src/cluster/stream-check.js';
import { httpStatus } from '../src/cluster/services.js';
import { waitFor } from '../src/cluster/wait.js';

type JobData = { run?: string; stream?: string; lines?: string[]; event?: string };
type JobStatus = { name: string; state: string; lastRun: { run: string; state: string } | null };

describe('the producer while Redis is down', { timeout: 180_000 }, () => {
  let redis: RedisServer;
  let cluster: Cluster;

  before(async () => {
    redis = await RedisServer.start();
    // The smallest outbox allowed, so that a job's output fills it while Redis is away. A lease
    // longer than the outages here: a leader that cannot renew in time stops its runs (SPEC §12).
    cluster = await Cluster.start({ REDIS_URL: redis.url }, { gateways: 1, producerEnv: { PRODUCER_OUTBOX_MAX_BYTES: '65536', PRODUCER_LEASE_MS: '120000' } });
  });

  after(async () => {
    await cluster?.stop();
    await redis?.close();
  });

  test("is not ready, refuses publishes with 503 at once, and keeps a job's output until Redis is back, in order", async () => {
    const channel = 'cmd:lines';
    const [live] = await cluster.connectClients(1, [channel], { autoResume: true, prefix: 'live' });
    await redis.kill();

    await waitFor('producer /readyz 503', async () => (await httpStatus(`${cluster.producer.adminUrl}/readyz`)) === 503, { timeoutMs: 10_000 });
    assert.equal(await httpStatus(`${cluster.producer.adminUrl}/healthz`), 200, '/healthz never depends on Redis');

    const refused = await cluster.api.request('POST', '/v1/publish', { channel: 'news', data: { n: 1 } }, 10_000);
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.ok(refused.ms < 5000, `answered in ${refused.ms} ms instead of hanging`);
    const code = (refused.body as { error?: { code?: string } } | null)?.error?.code;
    assert.equal(typeof code, 'string', `a JSON error body: ${JSON.stringify(refused.body)}`);

    const run = await cluster.api.startRun('lines');
    assert.equal(run.status, 202, `a run starts while Redis is down: ${JSON.stringify(run.body)}`);
    // The run prints its 200 lines in about half a second, all while Redis is away.
    await waitFor('the run to end while Redis is away', async () => {
      const jobs = (await cluster.api.request('GET', '/v1/jobs')).body as { jobs?: JobStatus[] };
      const lines = jobs.jobs?.find((j) => j.name === 'lines');
      return lines?.state === 'idle' && lines.lastRun?.state === 'exited' && lines.lastRun.run === run.run;
    }, { timeoutMs: 10_000 });

    await redis.restart();
    await cluster.producer.waitReady(20_000);
    await cluster.gateways[0]!.waitReady(20_000);

    // History is the source of truth: a client that joins now sees the whole run, in order.
    const late = new RecordingClient('late-joiner');
    cluster.clients.push(late);
    await late.connect(cluster.gateways[0]!.wsUrl);
    const expected = Array.from({ length: 200 }, (_, i) => `line-${i + 1}`);
    const linesOf = (c: RecordingClient) =>
      c.messages(channel).map((m) => m.data as JobData).filter((d) => d.run === run.run && d.stream === 'stdout').flatMap((d) => d.lines ?? []);
    const exitedIn = (c: RecordingClient) => c.messages(channel).some((m) => (m.data as JobData).run === run.run && (m.data as JobData).event === 'exited');
    await late.subscribe(channel, { history: 1000 });
    await waitFor('the run exit in history', () => exitedIn(late), { timeoutMs: 20_000 }).catch((err: Error) => {
      throw new Error(`${err.message}: late joiner has ${late.messages(channel).length} messages\n${cluster.tails()}`);
    });
    assert.deepEqual(linesOf(late), expected, 'every line, once, in order');
    const runEvents = late.messages(channel).map((m) => m.data as JobData).filter((d) => d.run === run.run && d.event);
    assert.deepEqual(runEvents.map((d) => d.event), ['started', 'exited']);

    // The client that stayed connected: whatever it got is in order, and any hole was announced.
    await waitFor('the live client to see the run exit', () => exitedIn(live!), { timeoutMs: 20_000 }).catch(() => undefined);
    const report = checkStream(live!.channelEvents(channel));
    assert.deepEqual(report.problems, [], describeStream(live!, channel, report));
    const seen = linesOf(live!);
    assert.deepEqual(seen, expected.slice(expected.length - seen.length), 'the live client got a suffix of the run, in order');
    if (seen.length < expected.length) assert.ok(report.notices >= 1, 'lines the live client did not get were announced');

    const ok = await cluster.api.request('POST', '/v1/publish', { channel: 'news', data: { n: 2 } });
    assert.ok(ok.status === 200 || ok.status === 201, `publishing works again: ${JSON.stringify(ok.body)}`);
  });

  test('with the outbox full the job blocks on its pipe instead of losing lines; all of them arrive once Redis is back', async () => {
    const channel = 'cmd:flood';
    await redis.kill();
    await waitFor('producer /readyz 503', async () => (await httpStatus(`${cluster.producer.adminUrl}/readyz`)) === 503, { timeoutMs: 10_000 });
    const run = await cluster.api.startRun('flood');
    assert.equal(run.status, 202, JSON.stringify(run.body));
    // 600 kB is far more than the outbox and a pipe hold: once the outbox is full its readers pause,
    // and the job, with most of its output still to print, can only wait on its pipe.
    await waitFor('the outbox to fill', async () => (await cluster.producer.metric('megaphone_producer_outbox_bytes')) >= 65536, { timeoutMs: 10_000 });
    const jobs = await cluster.api.request('GET', '/v1/jobs');
    const flood = (jobs.body as { jobs?: { name: string; state: string }[] }).jobs?.find((j) => j.name === 'flood');
    assert.equal(flood?.state, 'running', `the job waits on its full pipe: ${JSON.stringify(flood)}`);
    const outboxBytes = await cluster.producer.metric('megaphone_producer_outbox_bytes');
    assert.ok(outboxBytes > 0 && outboxBytes < 2 * 65536, `the outbox holds at most about its cap: ${outboxBytes} bytes`);

    await redis.restart();
    await cluster.producer.waitReady(20_000);
    await cluster.gateways[0]!.waitReady(20_000);
    const late = new RecordingClient('flood-reader');
    cluster.clients.push(late);
    await late.connect(cluster.gateways[0]!.wsUrl);
    const exited = () => late.messages(channel).some((m) => (m.data as JobData).run === run.run && (m.data as JobData).event === 'exited');
    // Lines that arrive together share a publication: 6000 lines make far fewer than 1000.
    await waitFor('the flood run to end', async () => {
      const r = await cluster.api.request('GET', '/v1/jobs');
      return (r.body as { jobs?: { name: string; state: string }[] }).jobs?.find((j) => j.name === 'flood')?.state === 'idle';
    }, { timeoutMs: 30_000 });
    await late.subscribe(channel, { history: 1000 });
    await waitFor('the exit in history', exited, { timeoutMs: 10_000 });
    const lines = late.messages(channel).map((m) => m.data as JobData).filter((d) => d.run === run.run && d.stream === 'stdout').flatMap((d) => d.lines ?? []);
    assert.equal(lines.length, 6000, 'every line');
    const misplaced = lines.findIndex((l, i) => !l.startsWith(`flood-${i + 1}-`));
    assert.equal(misplaced, -1, `in order, once each (first wrong at ${misplaced}: ${lines[misplaced]})`);
  });
});
