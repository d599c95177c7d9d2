import { RecordingClient } from '../cluster/recording-client.js';
import type { ServiceProcess } from '../cluster/services.js';
import { sleep, waitFor } from '../cluster/wait.js';
import type { Rng } from './rng.js';
import type { SoakTopology } from './topology.js';

export const FAULTS = [
  'kill9-gateway',
  'sigterm-gateway',
  'kill9-leader',
  'sigterm-leader',
  'redis-sigstop',
  'redis-restart',
  'pubsub-kill',
  'reconnect-storm',
] as const;
export type FaultName = (typeof FAULTS)[number];

export interface FaultRecord {
  name: FaultName;
  detail: string;
  startedAt: number;
  /** From the fault's start until every service was ready again with one leader. */
  recoveryMs: number;
  /** kill -9 / SIGTERM of the leader: from the signal until another producer led. */
  takeoverMs?: number;
}

/**
 * Injects one fault and heals it (restarts what it killed), as an operator's worst day would:
 * kill -9 or SIGTERM of a gateway or of the leading producer, Redis frozen (SIGSTOP) past the
 * clients' ping timeout, Redis restarted empty, every pub/sub connection cut (`CLIENT KILL TYPE
 * pubsub`), every reader reconnecting at once.
 */
export async function inject(t: SoakTopology, name: FaultName, rng: Rng, leaseMs: number): Promise<Omit<FaultRecord, 'recoveryMs' | 'startedAt'>> {
  switch (name) {
    case 'kill9-gateway':
    case 'sigterm-gateway': {
      const g = rng.pick(t.gateways.filter((x) => x.running));
      if (name === 'kill9-gateway') await g.kill9();
      else {
        g.signal('SIGTERM');
        if (!(await g.waitExit(15_000))) {
          await g.kill9();
          throw new Error(`${g.name} did not exit within 15 s of SIGTERM\n${g.tail(20)}`);
        }
        await expectCleanExit(g);
      }
      await sleep(rng.int(200, 2000));
      await restart(g);
      return { name, detail: g.name };
    }
    case 'kill9-leader':
    case 'sigterm-leader': {
      const leader = await waitFor('a leader before the fault', () => t.leader(), { timeoutMs: leaseMs * 3 + 10_000 });
      const other = t.producers.find((p) => p !== leader)!;
      const t0 = Date.now();
      if (name === 'kill9-leader') await leader.kill9();
      else leader.signal('SIGTERM');
      let takeoverMs: number | undefined;
      if (other.running) {
        await waitFor('the standby to lead', async () => (await other.metric('megaphone_producer_leader').catch(() => 0)) === 1, { timeoutMs: leaseMs * 3 + 10_000, intervalMs: 50 });
        takeoverMs = Date.now() - t0;
      }
      if (name === 'sigterm-leader' && !(await leader.waitExit(30_000))) {
        await leader.kill9();
        throw new Error(`${leader.name} did not exit within 30 s of SIGTERM\n${leader.tail(20)}`);
      }
      if (name === 'sigterm-leader') await expectCleanExit(leader);
      await restart(leader);
      return { name, detail: `${leader.name} (${other.name} took over)`, ...(takeoverMs !== undefined ? { takeoverMs } : {}) };
    }
    case 'redis-sigstop': {
      const ms = rng.int(3000, 5000);
      t.redis.pause();
      await sleep(ms);
      t.redis.resume();
      return { name, detail: `${ms} ms` };
    }
    case 'redis-restart':
      await t.redis.restart();
      return { name, detail: 'restarted empty' };
    case 'pubsub-kill': {
      const killed = await t.redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
      return { name, detail: `${killed.trim()} connections` };
    }
    case 'reconnect-storm': {
      await Promise.all(t.readers.map((r) => t.moveReader(r, rng).catch(() => undefined)));
      const ws = t.readers.filter((r) => r.client instanceof RecordingClient).length;
      return { name, detail: `${ws} WebSocket and ${t.readers.length - ws} SSE readers at once` };
    }
  }
}

/**
 * Starts a stopped service again on its ports. A port can be taken meanwhile by something else on a
 * shared machine (EADDRINUSE): the service exits at once and is started again, up to 10 times.
 */
async function restart(p: ServiceProcess): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    p.spawn();
    const exitedAtOnce = await p.waitExit(1500);
    if (!exitedAtOnce) return;
    if (!/EADDRINUSE/.test(p.tail(30)) || attempt >= 10) throw new Error(`${p.name} exited at restart\n${p.tail(20)}`);
    portRetries++;
    await sleep(1000);
  }
}

/** Restarts retried because a service's port was taken meanwhile (reported, not a violation). */
export let portRetries = 0;

/** Waits until every service is ready again and exactly one producer leads; returns when. */
export async function recovered(t: SoakTopology, timeoutMs: number): Promise<void> {
  await waitFor(
    'every service ready with one leader',
    async () => {
      const ready = await Promise.all([...t.producers, ...t.gateways].map((s) => s.readyz()));
      return ready.every((s) => s === 200) && (await t.leader()) !== undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/**
 * After SIGTERM a service exits 0: a 1 means its stop failed or ran into the shutdown deadline
 * (runtime's handleSignals), i.e. some step of it was not bounded: the soak reports it with the log.
 */
async function expectCleanExit(p: ServiceProcess): Promise<void> {
  const exit = await p.exited;
  if (exit !== undefined && exit.code !== 0) {
    throw new Error(`${p.name} exited with code ${exit.code}${exit.signal !== null ? ` (${exit.signal})` : ''} after SIGTERM\n${p.tail(30)}`);
  }
}
