import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTopology, waitFor, type RedisServer, type ServiceProcess, type Topology } from '@megaphone/testing';
import { ProducerApi } from '../cluster/producer-api.js';
import { RecordingClient } from '../cluster/recording-client.js';
import { API_TOKEN, BINS } from '../cluster/services.js';
import { SseRecorder } from '../cluster/sse-recorder.js';
import type { Rng } from './rng.js';

/** Channels the two publishers write through the two producers' APIs. */
export const API_CHANNELS = ['soak-a', 'soak-b'] as const;

export type ReaderKind = 'fast' | 'slow' | 'reconnecting';

export interface Reader {
  kind: ReaderKind;
  client: RecordingClient | SseRecorder;
  channels: readonly string[];
}

/**
 * The soak's topology, all as separate processes: Redis, two producers (one leads), three gateways;
 * WebSocket and SSE readers, fast, slow (they stop reading for seconds at a time) and reconnecting
 * (they move to another gateway now and then, resuming with `since` / `Last-Event-ID`).
 */
export class SoakTopology {
  readonly readers: Reader[] = [];
  /** The ticker job's marker in its argv: a process whose command line holds it is one of its runs. */
  readonly marker: string;
  private timers: NodeJS.Timeout[] = [];

  readonly redis: RedisServer;
  readonly producers: readonly ServiceProcess[];
  readonly gateways: readonly ServiceProcess[];

  private constructor(
    private readonly topology: Topology,
    private readonly dir: string,
    marker: string,
  ) {
    this.redis = topology.redis.server!;
    this.producers = topology.producers;
    this.gateways = topology.gateways;
    this.marker = marker;
  }

  static async start(opts: { leaseMs: number; seed: number }): Promise<SoakTopology> {
    const dir = mkdtempSync(join(tmpdir(), 'mp-soak-'));
    const marker = `soak-ticker-${opts.seed}-${process.pid}`;
    const jobsFile = join(dir, 'jobs.yaml');
    writeFileSync(
      jobsFile,
      `jobs:
  - name: ticker
    command: ["sh", "-c", "# ${marker}\\ni=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]
    restart: always
  - name: beat
    command: ["sh", "-c", "echo beat; sleep 0.3; echo done"]
    every: 3s
    timeout: 10s
    startOnBoot: false
`,
    );
    const history = { HISTORY_SIZE: '20000', HISTORY_TTL_MS: '3600000' };
    try {
      const topology = await startTopology({
        bins: BINS,
        producers: 2,
        gateways: 3,
        gatewayName: (i) => `gw-${i + 1}`,
        pickPort: stablePort,
        env: { ...history, LOG_LEVEL: 'error' },
        gatewayEnv: { GATEWAY_ALLOWED_ORIGINS: '*', GATEWAY_DRAIN_MS: '500' },
        producerEnv: { PRODUCER_JOBS_FILE: jobsFile, PRODUCER_API_TOKEN: API_TOKEN, PRODUCER_LEASE_MS: String(opts.leaseMs), PRODUCER_UPTIME_INTERVAL_MS: '500' },
      });
      return new SoakTopology(topology, dir, marker);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  apiOf(i: number): ProducerApi {
    return new ProducerApi(this.producers[i]!.httpUrl);
  }

  /** Connects the readers (round-robin over the gateways) and starts the slow and reconnecting behaviour. */
  async connectReaders(rng: Rng): Promise<void> {
    const all = [...API_CHANNELS, 'cmd:ticker'];
    // Slow readers get no `uptime`: gateways conflate it for slow consumers (a state, not a stream).
    const plan: { kind: ReaderKind; transport: 'ws' | 'sse'; channels: string[] }[] = [
      ...Array.from({ length: 4 }, () => ({ kind: 'fast' as const, transport: 'ws' as const, channels: [...all, 'uptime'] })),
      ...Array.from({ length: 2 }, () => ({ kind: 'slow' as const, transport: 'ws' as const, channels: all })),
      ...Array.from({ length: 2 }, () => ({ kind: 'reconnecting' as const, transport: 'ws' as const, channels: [...all, 'uptime'] })),
      ...Array.from({ length: 2 }, () => ({ kind: 'fast' as const, transport: 'sse' as const, channels: [...all, 'uptime'] })),
      { kind: 'slow', transport: 'sse', channels: all },
      { kind: 'reconnecting', transport: 'sse', channels: [...all, 'uptime'] },
    ];
    await Promise.all(
      plan.map(async (p, k) => {
        const gi = k % this.gateways.length;
        const gw = this.gateways[gi]!;
        const others = this.gateways.filter((_, i) => i !== gi);
        const name = `${p.transport}-${p.kind}-${k + 1}`;
        if (p.transport === 'ws') {
          const c = new RecordingClient(name);
          await c.connect(gw.wsUrl);
          for (const ch of p.channels) await c.subscribe(ch);
          c.autoResumeUrls = [...others, gw].map((g) => g.wsUrl);
          this.readers.push({ kind: p.kind, client: c, channels: p.channels });
        } else {
          const r = new SseRecorder(name, p.channels);
          await r.connect(gw.httpUrl);
          await waitFor(`${name} subscriptions`, () => p.channels.every((ch) => r.channelEvents(ch).length > 0));
          r.autoResumeUrls = [...others, gw].map((g) => g.httpUrl);
          this.readers.push({ kind: p.kind, client: r, channels: p.channels });
        }
      }),
    );
    for (const r of this.readers) {
      if (r.kind === 'slow') this.every(() => r.client.pauseFor(rng.int(500, 3000)), 4000);
      if (r.kind === 'reconnecting') {
        let moving = false;
        this.every(() => {
          if (moving) return;
          moving = true;
          void this.moveReader(r, rng)
            .catch(() => undefined)
            .finally(() => (moving = false));
        }, rng.int(3000, 6000));
      }
    }
  }

  /** A reader leaves its gateway and resumes on another (as after a page reload or a network change). */
  async moveReader(r: Reader, rng: Rng): Promise<void> {
    // One connection at a time: a reader already resuming on its own (its gateway died) finishes first.
    await r.client.settled();
    const g = rng.pick(this.gateways.filter((x) => x.running));
    if (!g) return;
    if (r.client instanceof RecordingClient) {
      await r.client.resumeOn(g.wsUrl);
    } else {
      r.client.disconnect();
      await r.client.connect(g.httpUrl, { resume: true });
    }
  }

  private every(fn: () => void, ms: number): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  stopBehaviours(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** The producer that reports itself leader, if exactly one does. */
  async leader(): Promise<ServiceProcess | undefined> {
    const leading = await Promise.all(this.producers.map(async (p) => p.running && (await p.metric('megaphone_producer_leader').catch(() => 0)) === 1));
    const found = this.producers.filter((_, i) => leading[i]);
    return found.length === 1 ? found[0] : undefined;
  }

  /**
   * Runs of the ticker alive now: process groups holding a process whose command line holds the
   * marker (zombies have none). Groups, not processes: a fork shows its parent's command line until
   * it execs.
   */
  tickerRuns(): number {
    return this.tickerGroups().size;
  }

  /** Process group → the name of the producer whose child leads it (or its parent pid). */
  tickerGroups(): Map<string, string> {
    const groups = new Map<string, string>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(this.marker)) continue;
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const parent = this.producers.find((p) => p.running && String(p.pid) === ppid);
        if (pgrp === entry || !groups.has(pgrp!)) groups.set(pgrp!, parent?.name ?? `pid ${ppid}`);
      } catch {
        // gone meanwhile
      }
    }
    return groups;
  }

  async stop(): Promise<void> {
    this.stopBehaviours();
    await Promise.all(this.readers.map((r) => r.client.close().catch(() => undefined)));
    await this.topology.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resident memory of a process in bytes (undefined when it is gone). */
export function rssBytes(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * A free port below the kernel's ephemeral range (32768+ on Linux): the soak restarts services on
 * their ports, and a port from the ephemeral range may meanwhile be taken by any outgoing connection.
 */
async function stablePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below the ephemeral range');
}
