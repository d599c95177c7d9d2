import { createHistogram } from 'node:perf_hooks';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { BenchClient, type Tally } from './ws-client.js';
import type { PublishStats } from './publisher.js';
import { coreBusy, coreTimes, processCpuUs, processRssBytes } from '../proc-stats.js';
import type { ConnectReply, ConnectRequest, LoadgenReply, LoadgenRequest, PublisherReply, PublisherRequest, RunReply, RunRequest } from './messages.js';

/**
 * The load generator: a child process (pinned to the load core by the bench) that holds every
 * client and measures; its own child, the publisher (publisher-main.ts, same core), publishes.
 * Driven over IPC by the bench, one request at a time.
 */
const tally: Tally = {
  delivered: 0,
  stalledDelivered: 0,
  frames: 0,
  disorder: 0,
  closed: 0,
  closeCodes: new Map(),
  latency: createHistogram({ lowest: 1, highest: 120_000_000, figures: 3 }),
};
let clients: BenchClient[] = [];
let clientChannels: string[] = [];
let channels: string[] = [];
let publisher: ChildProcess | undefined;

/** One step's publications, sent by the publisher process (started on first use, kept). */
async function publishVia(req: PublisherRequest): Promise<PublishStats> {
  if (publisher === undefined || publisher.exitCode !== null) {
    publisher = fork(new URL('./publisher-main.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }
  const child = publisher;
  // Both waits end with the step (the loser is aborted): the publisher lives for many steps, and a
  // pending once() per step would pile listeners on it.
  const done = new AbortController();
  const answer = once(child, 'message', { signal: done.signal }) as Promise<[PublisherReply]>;
  const exited = once(child, 'exit', { signal: done.signal }).then(([code]) => {
    throw new Error(`the publisher exited (${String(code)})`);
  });
  child.send(req);
  let msg: PublisherReply;
  try {
    [msg] = await Promise.race([answer, exited]);
  } finally {
    done.abort(); // Promise.race already handles the loser's AbortError
  }
  if (msg.type === 'error') throw new Error(`publisher: ${msg.message}`);
  return { published: msg.published, errors: msg.errors, ...(msg.firstError !== undefined ? { firstError: msg.firstError } : {}), perChannel: new Map(msg.perChannel) };
}

/** CPU of the load generator's own processes: this one and its publisher. */
function ownCpuUs(): number {
  const c = process.cpuUsage();
  let us = c.user + c.system;
  if (publisher?.pid !== undefined && publisher.exitCode === null) {
    try {
      us += processCpuUs(publisher.pid);
    } catch {
      // gone
    }
  }
  return us;
}

function reply(msg: LoadgenReply): void {
  process.send?.(msg);
}

async function connectAll(req: ConnectRequest): Promise<ConnectReply> {
  const t0 = performance.now();
  channels = req.channels;
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < req.clients) {
      const i = next++;
      const channel = req.channels[i % req.channels.length]!;
      const client = new BenchClient(
        { protocol: req.protocol, port: req.port, path: req.pathTemplate.replace('{channel}', encodeURIComponent(channel)), channel, ...(req.token !== undefined ? { token: req.token } : {}) },
        tally,
        i % req.sampleEvery === 0,
      );
      try {
        await client.start(20_000);
        clients.push(client);
        clientChannels.push(channel);
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
        client.close();
      }
    }
  };
  await Promise.all(Array.from({ length: req.concurrency }, worker));
  return { type: 'connected', clients: clients.length, failed, ...(firstError ? { firstError } : {}), elapsedMs: performance.now() - t0 };
}

async function run(req: RunRequest): Promise<RunReply> {
  const stallEvery = req.stallFraction > 0 ? Math.round(1 / req.stallFraction) : 0;
  const healthyPerChannel = new Map<string, number>();
  clients.forEach((c, i) => {
    // Stall clients that do not sample latency, so the histogram holds healthy clients only.
    if (stallEvery > 0 && i % stallEvery === stallEvery - 1 && !c.sampled) c.stall();
    if (!c.stalled) healthyPerChannel.set(clientChannels[i]!, (healthyPerChannel.get(clientChannels[i]!) ?? 0) + 1);
  });
  tally.delivered = 0;
  tally.frames = 0;
  tally.stalledDelivered = 0;
  tally.disorder = 0;
  tally.closed = 0;
  tally.closeCodes.clear();
  tally.latency.reset();

  const rssStart = processRssBytes(req.serverPid);
  let rssPeak = rssStart;
  const rssTimer = setInterval(() => {
    try {
      rssPeak = Math.max(rssPeak, processRssBytes(req.serverPid));
    } catch {
      // the server exited; the step reports what it saw
    }
  }, 100);
  const cpu0 = ownCpuUs();
  const cores0 = coreTimes();
  const server0 = processCpuUs(req.serverPid);
  const side0 = sideCpu(req.sidePids);
  const redis0 = sideCpu([req.redisPid]);
  const t0 = performance.now();
  const stats = await publishVia({ via: req.via, channels, ratePerChannel: req.ratePerChannel, durationMs: req.durationMs, payloadChars: req.payloadChars });
  const publishMs = performance.now() - t0;
  let expected = 0;
  for (const [channel, n] of stats.perChannel) expected += n * (healthyPerChannel.get(channel) ?? 0);

  // Wait for the tail: stop when everything arrived or nothing moved for a while, or at drainMs.
  let last = tally.delivered;
  let lastChange = performance.now();
  const drainEnd = performance.now() + req.drainMs;
  while (tally.delivered < expected && performance.now() < drainEnd && performance.now() - lastChange < 1500) {
    await new Promise((r) => setTimeout(r, 20));
    if (tally.delivered !== last) {
      last = tally.delivered;
      lastChange = performance.now();
    }
  }
  const windowMs = Math.max(publishMs, lastChange - t0);
  const serverCpuUs = processCpuUs(req.serverPid) - server0;
  const sideCpuUs = sideCpu(req.sidePids) - side0;
  const redisCpuUs = sideCpu([req.redisPid]) - redis0;
  const cpuUs = ownCpuUs() - cpu0;
  const cores = coreBusy(cores0, coreTimes());
  const wallMs = performance.now() - t0;
  clearInterval(rssTimer);
  const h = tally.latency;
  const us = (v: number): number => (h.count > 0 ? v : 0);
  return {
    type: 'ran',
    published: stats.published,
    publishErrors: stats.errors,
    ...(stats.firstError ? { firstPublishError: stats.firstError } : {}),
    expected,
    delivered: tally.delivered,
    stalledDelivered: tally.stalledDelivered,
    frames: tally.frames,
    disorder: tally.disorder,
    windowMs,
    publishMs,
    latencyUs: { p50: us(h.percentile(50)), p99: us(h.percentile(99)), p999: us(h.percentile(99.9)), max: us(h.max), count: h.count },
    loadgenCpu: cpuUs / 1000 / wallMs,
    coreBusy: cores,
    serverCpuUs,
    sideCpuUs,
    redisCpuUs,
    serverRssStartBytes: rssStart,
    serverRssPeakBytes: rssPeak,
    serverRssEndBytes: processRssBytes(req.serverPid),
    closed: tally.closed,
    closeCodes: Object.fromEntries([...tally.closeCodes].map(([k, v]) => [String(k), v])),
  };
}

function sideCpu(pids: readonly number[]): number {
  let us = 0;
  for (const pid of pids) {
    try {
      us += processCpuUs(pid);
    } catch {
      // gone
    }
  }
  return us;
}

function stop(): void {
  for (const c of clients) c.close();
  clients = [];
  clientChannels = [];
  // The publisher ends when its IPC channel does (publisher-main.ts).
  publisher?.disconnect();
  process.disconnect?.();
  setTimeout(() => process.exit(0), 200).unref();
}

process.on('message', (msg: LoadgenRequest) => {
  const handle = async (): Promise<LoadgenReply | undefined> => {
    switch (msg.type) {
      case 'connect':
        return connectAll(msg);
      case 'run':
        return run(msg);
      case 'stop':
        stop();
        return undefined;
    }
  };
  handle().then(
    (r) => r && reply(r),
    (err: unknown) => reply({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});
process.on('disconnect', () => {
  for (const c of clients) c.close();
  process.exit(0);
});
