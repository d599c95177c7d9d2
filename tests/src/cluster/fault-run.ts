import type { Cluster } from './fixture.js';
import { publishContinuously } from './publisher.js';
import type { RecordingClient } from './recording-client.js';
import { PublishLog, expectAllCaughtUp } from './stream-check.js';
import { waitFor } from './wait.js';

export interface FaultOutcome {
  clients: RecordingClient[];
  log: PublishLog;
  notices: number;
  refusals: number[];
  channel: string;
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
  opts: { clients?: number; intervalMs?: number; catchUpMs?: number } = {},
): Promise<FaultOutcome> {
  const channel = `fault-${name}`;
  const clients = await cluster.connectClients(opts.clients ?? 6, [channel], { autoResume: true, prefix: name });
  const log = new PublishLog();
  const loop = publishContinuously(cluster.api, channel, log, { intervalMs: opts.intervalMs ?? 20, tag: name });
  let stopped = false;
  try {
    await waitFor('publishing to start', () => loop.accepted() >= 20, { timeoutMs: 10_000 });
    await fault({ channel, log });
    const atHeal = loop.accepted();
    await waitFor('publishing to resume after the fault', () => loop.accepted() >= atHeal + 20, { timeoutMs: 30_000 }).catch((err: Error) => {
      throw new Error(`${err.message} (refusals: ${JSON.stringify(loop.refusals().slice(-10))})\n${cluster.tails()}`);
    });
    await loop.stop();
    stopped = true;
    await Promise.all(clients.map((c) => c.settled()));
    const { notices } = await expectAllCaughtUp(clients, channel, log, opts.catchUpMs ?? 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${cluster.tails()}`);
    });
    return { clients, log, notices, refusals: loop.refusals(), channel };
  } finally {
    if (!stopped) await loop.stop();
    await Promise.all(clients.map((c) => c.close()));
  }
}
