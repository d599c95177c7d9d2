import type { Cluster } from './fixture.js';
import { publishContinuously } from './publisher.js';
import type { RecordingClient } from './recording-client.js';
import type { SseRecorder } from './sse-recorder.js';
import { PublishLog, expectAllCaughtUp } from './stream-check.js';
import type { Recorder } from './stream-check.js';
import { waitFor } from './wait.js';

export interface FaultOutcome {
  clients: RecordingClient[];
  readers: SseRecorder[];
  log: PublishLog;
  notices: number;
  refusals: number[];
  channel: string;
  /** Per gateway (-1 when it was not running at the end): bus reconnects, gaps filled and lost during the run. */
  gateways: { reconnects: number; gapsFilled: number; gapsLost: number }[];
}

interface Counters {
  reconnects: number;
  gapsFilled: number;
  gapsLost: number;
}

async function counters(cluster: Cluster): Promise<(Counters | undefined)[]> {
  return Promise.all(
    cluster.gateways.map(async (g) => {
      if (!g.running) return undefined;
      try {
        return {
          reconnects: await g.metric('megaphone_bus_reconnects_total'),
          gapsFilled: await g.metric('megaphone_gaps_total', 'outcome="filled"'),
          gapsLost: await g.metric('megaphone_gaps_total', 'outcome="lost"'),
        };
      } catch {
        return undefined;
      }
    }),
  );
}

/**
 * The shape of every fault test: clients on every gateway (resuming elsewhere if their gateway
 * dies), publishing before, during and after the fault; then publishing must resume and every
 * client must reach the last publication with a stream that is consecutive or explicitly noticed.
 */
export async function publishThroughFault(
  cluster: Cluster,
  name: string,
  fault: (ctx: { channel: string; log: PublishLog }) => Promise<void>,
  opts: { clients?: number; intervalMs?: number; catchUpMs?: number; expectReconnect?: number[]; on?: number[] } = {},
): Promise<FaultOutcome> {
  const channel = `fault-${name}`;
  // Each fault starts from a healthy cluster; a previous fault that left a service broken fails here, by name.
  for (const s of [cluster.producer, ...cluster.gateways]) {
    if (!s.running) continue;
    await s.waitReady(20_000).catch(async (err: Error) => {
      throw new Error(`before the ${name} fault, ${s.name} is not ready (left broken by an earlier fault?): ${err.message}\n${await gatewayStates(cluster, [])}`);
    });
  }
  const clients = await cluster.connectClients(opts.clients ?? 6, [channel], { autoResume: true, prefix: name, ...(opts.on ? { on: opts.on } : {}) });
  // One SSE reader per gateway as well, resuming with Last-Event-ID like EventSource.
  const readers = await cluster.connectSseReaders([channel], { autoResume: true, prefix: `${name}-sse`, ...(opts.on ? { on: opts.on } : {}) });
  const all: Recorder[] = [...clients, ...readers];
  const log = new PublishLog();
  const loop = publishContinuously(cluster.api, channel, log, { intervalMs: opts.intervalMs ?? 20, tag: name });
  let stopped = false;
  const before = await counters(cluster);
  try {
    await waitFor('publishing to start', () => loop.accepted() >= 20, { timeoutMs: 10_000 });
    await fault({ channel, log });
    const atHeal = loop.accepted();
    await waitFor('publishing to resume after the fault', () => loop.accepted() >= atHeal + 20, { timeoutMs: 30_000 }).catch(async (err: Error) => {
      const producer = `producer: /readyz ${await cluster.producer.readyz()}, bus_connected ${await cluster.producer.metric('megaphone_bus_connected').catch(() => NaN)}`;
      throw new Error(`${err.message} (refusals: ${JSON.stringify(loop.refusals().slice(-10))})\n${producer}\n${await gatewayStates(cluster, before)}\n${cluster.tails(4)}`);
    });
    await loop.stop();
    stopped = true;
    await Promise.all(clients.map((c) => c.settled()));
    const { notices } = await expectAllCaughtUp(all, channel, log, opts.catchUpMs ?? 30_000).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await gatewayStates(cluster, before)}\n${cluster.tails()}`);
    });
    const after = await counters(cluster);
    const gateways = after.map((a, i) => {
      const b = before[i];
      return a && b ? { reconnects: a.reconnects - b.reconnects, gapsFilled: a.gapsFilled - b.gapsFilled, gapsLost: a.gapsLost - b.gapsLost } : { reconnects: -1, gapsFilled: -1, gapsLost: -1 };
    });
    for (const i of opts.expectReconnect ?? []) {
      if (!(gateways[i]!.reconnects > 0)) throw new Error(`the fault did not reach gw-${i + 1}: its bus did not reconnect (${JSON.stringify(gateways)})`);
    }
    return { clients, readers, log, notices, refusals: loop.refusals(), channel, gateways };
  } finally {
    if (!stopped) await loop.stop();
    await Promise.all([...clients.map((c) => c.close()), ...readers.map((r) => r.close())]);
  }
}

/** For a failure message: each gateway's readiness, bus connection and reconnects during the run. */
async function gatewayStates(cluster: Cluster, before: (Counters | undefined)[]): Promise<string> {
  const now = await counters(cluster);
  const lines = await Promise.all(
    cluster.gateways.map(async (g, i) => {
      if (!g.running) return `gw-${i + 1}: not running`;
      const connected = await g.metric('megaphone_bus_connected').catch(() => NaN);
      return `gw-${i + 1}: /readyz ${await g.readyz()}, bus_connected ${connected}, reconnects during the run ${(now[i]?.reconnects ?? NaN) - (before[i]?.reconnects ?? NaN)}`;
    }),
  );
  return lines.join('\n');
}

/** One line for the test report: what the fault did and what the system did about it. */
export function summarize(o: FaultOutcome): string {
  const gw = o.gateways.map((g, i) => `gw-${i + 1} reconnects ${g.reconnects} gaps filled ${g.gapsFilled} lost ${g.gapsLost}`).join('; ');
  const last = o.log.last.get(o.channel);
  const refused = o.refusals.length;
  const retried = o.clients.reduce((n, c) => n + c.retriedSubscribes.length, 0);
  return `${o.clients.length} ws clients and ${o.readers.length} SSE readers reached ${last?.epoch}/${last?.offset}; notices ${o.notices}; publishes refused/retried ${refused}; subscribes retried after "try again" errors ${retried}; ${gw}`;
}
