import { request, Agent } from 'node:http';
import { Redis } from 'ioredis';
import { markedText } from './marks.js';
import { socketIoBroadcast } from './msgpack.js';
import { performanceNowEpochMs } from './ws-client.js';
import type { PublishVia } from './messages.js';
import type { Bus } from '@megaphone/bus';

export interface PublishStats {
  published: number;
  errors: number;
  firstError?: string;
  /** Items published per channel (a job's lines count as items). */
  perChannel: Map<string, number>;
}

const TICK_MS = 5;
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function post(port: number, path: string, body: string, token: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The message line the plain peers forward verbatim: the same shape and size as Megaphone's. */
function plainLine(channel: string, seq: number, text: string): string {
  return `{"op":"message","channel":"${channel}","offset":${seq},"ts":${Date.now()},"data":{"m":"${text}"}}`;
}

/**
 * Open-loop publisher: every tick it sends what the schedule says is due, stamped with the send
 * time, without waiting for earlier sends to complete (a slow server does not slow the offered load).
 */
export async function publish(
  via: PublishVia,
  channels: readonly string[],
  ratePerChannel: number,
  durationMs: number,
  payloadChars: number,
  redis: Redis | undefined,
  bus?: Bus,
): Promise<PublishStats> {
  const stats: PublishStats = { published: 0, errors: 0, perChannel: new Map(channels.map((c) => [c, 0])) };
  const fail = (err: unknown): void => {
    stats.errors++;
    stats.firstError ??= err instanceof Error ? err.message : String(err);
  };
  const inflight: Promise<unknown>[] = [];
  if (via.kind === 'job') {
    const channel = `cmd:${via.job}`;
    const status = await post(via.port, `/v1/jobs/${via.job}/runs`, '{}', via.token).catch((err: unknown) => (fail(err), 0));
    if (status !== 202) fail(new Error(`job start answered ${status}`));
    else {
      stats.published = via.lines;
      stats.perChannel.set(channel, via.lines);
    }
    await new Promise((r) => setTimeout(r, durationMs));
    return stats;
  }
  const total = Math.floor((ratePerChannel * channels.length * durationMs) / 1000);
  const t0 = performance.now();
  let seq = 0;
  while (seq < total) {
    const elapsed = performance.now() - t0;
    const due = Math.min(total, Math.floor((elapsed * ratePerChannel * channels.length) / 1000) + 1);
    if (due > seq) {
      const batch: { channel: string; seq: number; text: string }[] = [];
      for (; seq < due; seq++) {
        const channel = channels[seq % channels.length]!;
        batch.push({ channel, seq: seq + 1, text: markedText(performanceNowEpochMs(), seq + 1, payloadChars) });
        stats.perChannel.set(channel, (stats.perChannel.get(channel) ?? 0) + 1);
      }
      stats.published += batch.length;
      inflight.push(send(via, batch, redis, bus).catch(fail));
      if (inflight.length > 256) await Promise.all(inflight.splice(0, 128));
    }
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  await Promise.all(inflight);
  return stats;
}

async function send(
  via: PublishVia,
  batch: { channel: string; seq: number; text: string }[],
  redis: Redis | undefined,
  bus: Bus | undefined,
): Promise<void> {
  switch (via.kind) {
    case 'producer': {
      // The producer takes at most 1,000 publications per request.
      const sends: Promise<number>[] = [];
      for (let i = 0; i < batch.length; i += 500) {
        const body = JSON.stringify(batch.slice(i, i + 500).map((b) => ({ channel: b.channel, data: { m: b.text } })));
        sends.push(post(via.port, '/v1/publish', body, via.token));
      }
      for (const status of await Promise.all(sends)) {
        if (status < 200 || status > 299) throw new Error(`POST /v1/publish answered ${status}`);
      }
      return;
    }
    case 'bus': {
      await Promise.all(batch.map((b) => bus!.publish(b.channel, `{"m":"${b.text}"}`)));
      return;
    }
    case 'redis-plain': {
      const p = redis!.pipeline();
      for (const b of batch) p.publish(b.channel, plainLine(b.channel, b.seq, b.text));
      await p.exec();
      return;
    }
    case 'redis-socketio': {
      const p = redis!.pipeline();
      for (const b of batch) {
        const { channel, message } = socketIoBroadcast('m', b.text, b.channel === 'bench' ? undefined : b.channel);
        p.publish(channel, message);
      }
      await p.exec();
      return;
    }
    case 'job':
      return;
  }
}
