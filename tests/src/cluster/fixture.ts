import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProducerApi } from './producer-api.js';
import { RecordingClient } from './recording-client.js';
import { SseRecorder } from './sse-recorder.js';
import { waitFor } from './wait.js';
import { startTopology, type Topology } from '@megaphone/testing';
import { API_TOKEN, BINS } from './services.js';
import type { RedisEnv, ServiceProcess } from './services.js';

/**
 * A jobs file every cluster test can use: `lines` prints 200 numbered lines, a little at a time;
 * `flood` prints 6000 lines (~600 kB) at once, more than a small outbox plus a pipe can hold.
 */
export const TEST_JOBS = `jobs:
  - name: lines
    command: ["sh", "-c", "i=1; while [ $i -le 200 ]; do echo line-$i; i=$((i+1)); if [ $((i % 20)) -eq 0 ]; then sleep 0.05; fi; done"]
    timeout: 60s
    startOnBoot: false
  - name: flood
    command: ["sh", "-c", "i=1; while [ $i -le 6000 ]; do echo flood-$i-................................................................................; i=$((i+1)); done"]
    timeout: 120s
    startOnBoot: false
`;

export interface ClusterOptions {
  gateways?: number;
  /** Redis as seen by gateway i (a fault proxy in front of one of them, for instance). */
  gatewayRedis?: (i: number) => RedisEnv;
  gatewayEnv?: Record<string, string>;
  producerEnv?: Record<string, string>;
  jobs?: string;
}

/** One producer and N gateways as separate processes, all on the same Redis. */
export class Cluster {
  readonly clients: RecordingClient[] = [];
  readonly readers: SseRecorder[] = [];

  readonly producer: ServiceProcess;
  readonly gateways: readonly ServiceProcess[];

  private constructor(
    private readonly topology: Topology,
    readonly api: ProducerApi,
    private readonly dir: string,
  ) {
    this.producer = topology.producers[0]!;
    this.gateways = topology.gateways;
  }

  static async start(redis: RedisEnv, opts: ClusterOptions = {}): Promise<Cluster> {
    const dir = mkdtempSync(join(tmpdir(), 'mp-cluster-'));
    const jobsFile = join(dir, 'jobs.yaml');
    writeFileSync(jobsFile, opts.jobs ?? TEST_JOBS);
    try {
      const topology = await startTopology({
        bins: BINS,
        redis,
        ...(opts.gatewayRedis !== undefined ? { gatewayRedis: opts.gatewayRedis } : {}),
        gateways: opts.gateways ?? 3,
        gatewayName: (i) => `gw-${i + 1}`,
        env: { LOG_LEVEL: 'warn' },
        gatewayEnv: {
          GATEWAY_ALLOWED_ORIGINS: '*',
          GATEWAY_DRAIN_MS: '500',
          // Every test client connects from loopback, and reconnects all at once after a fault.
          GATEWAY_MAX_CONNECTIONS_PER_IP: '1000000',
          GATEWAY_CONNECTS_PER_IP_PER_SECOND: '100000',
          ...opts.gatewayEnv,
        },
        producerEnv: { PRODUCER_JOBS_FILE: jobsFile, PRODUCER_API_TOKEN: API_TOKEN, ...opts.producerEnv },
      });
      return new Cluster(topology, new ProducerApi(topology.producers[0]!.httpUrl), dir);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get wsUrls(): string[] {
    return this.gateways.map((g) => g.wsUrl);
  }

  /**
   * `count` clients round-robin over the gateways (or over `on`), each subscribed to every channel
   * before this resolves. With `autoResume`, a client whose connection dies resumes on the other gateways.
   */
  async connectClients(count: number, channels: readonly string[], opts: { on?: number[]; autoResume?: boolean; prefix?: string } = {}): Promise<RecordingClient[]> {
    const on = opts.on ?? this.gateways.map((_, i) => i);
    const made: RecordingClient[] = [];
    await Promise.all(
      Array.from({ length: count }, async (_, k) => {
        const gi = on[k % on.length]!;
        const c = new RecordingClient(`${opts.prefix ?? 'client'}-${k + 1}@gw-${gi + 1}`);
        this.clients.push(c);
        made.push(c);
        await c.connect(this.gateways[gi]!.wsUrl);
        for (const ch of channels) await c.subscribe(ch);
        if (opts.autoResume) c.autoResumeUrls = this.wsUrls.filter((_, i) => i !== gi);
      }),
    );
    return made;
  }

  /** One SSE reader per gateway (or per gateway in `on`), each on every channel. */
  async connectSseReaders(channels: readonly string[], opts: { on?: number[]; autoResume?: boolean; prefix?: string } = {}): Promise<SseRecorder[]> {
    const on = opts.on ?? this.gateways.map((_, i) => i);
    const made = on.map((gi) => new SseRecorder(`${opts.prefix ?? 'sse'}@gw-${gi + 1}`, channels));
    this.readers.push(...made);
    await Promise.all(made.map((r, k) => r.connect(this.gateways[on[k]!]!.httpUrl)));
    // The welcome comes first; wait for every subscription to be live before anyone publishes.
    await waitFor('SSE subscriptions to be live', () => made.every((r) => channels.every((c) => r.channelEvents(c).length > 0)));
    if (opts.autoResume) made.forEach((r, k) => (r.autoResumeUrls = this.gateways.filter((_, i) => i !== on[k]).map((g) => g.httpUrl)));
    return made;
  }

  /** Every process's recent output, for a failing assertion's message. */
  tails(n = 15): string {
    return this.topology.tails(n);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.clients, ...this.readers].map((c) => c.close().catch(() => undefined)));
    await this.topology.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
