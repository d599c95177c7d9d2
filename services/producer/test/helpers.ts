import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BusUnavailableError, MemoryBus, type Bus, type BusHandler, type HistoryQuery, type HistoryResult } from '@megaphone/bus';
import type { StreamPosition } from '@megaphone/protocol';
import { createLogger } from '@megaphone/runtime';
import { readProducerConfig, type ProducerConfig } from '../src/config.js';
import type { JobSpec } from '../src/jobs/jobs-file.js';

export const silentLogger = createLogger({ level: 'silent', service: 'producer-test', node: 'test' });

export function memoryBus(): MemoryBus {
  return new MemoryBus({ history: () => ({ size: 100_000, ttlMs: 3_600_000 }) });
}

/** A temporary folder removed by `cleanup()`. */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mp-producer-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeJobsFile(dir: string, yaml: string): string {
  const file = join(dir, 'jobs.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** A config for tests: loopback, port 0, silent, short kill grace, the given jobs. */
export function testConfig(jobs: JobSpec[], env: Record<string, string> = {}): ProducerConfig {
  const { dir, cleanup } = tempDir();
  try {
    const config = readProducerConfig({
      PRODUCER_JOBS_FILE: writeJobsFile(dir, 'jobs: []\n'),
      PRODUCER_HOST: '127.0.0.1',
      PRODUCER_PORT: '0',
      PRODUCER_ADMIN_HOST: '127.0.0.1',
      PRODUCER_ADMIN_PORT: '0',
      PRODUCER_KILL_GRACE_MS: '300',
      PRODUCER_UPTIME_INTERVAL_MS: '100',
      LOG_LEVEL: 'silent',
      NODE_NAME: 'producer-test',
      ...env,
    });
    return { ...config, jobs };
  } finally {
    cleanup();
  }
}

export function job(name: string, command: string[], extra: Partial<JobSpec> = {}): JobSpec {
  return { name, command, restart: 'never', env: {}, maxLineBytes: 16_384, startOnBoot: false, ...extra };
}

export { waitFor } from '@megaphone/testing';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * True while `pid` sleeps in a write to its full stdout: the command is blocked by back-pressure,
 * not finished and not busy. Linux names where it sleeps in /proc/<pid>/wchan: node gives a child
 * a socket pair for stdio (sock_alloc_send_pskb, unix_stream_sendmsg); a pipe shows pipe_write.
 */
export function blockedWriting(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    return /^(sock_alloc_send_pskb|unix_stream_sendmsg|(anon_)?pipe_write)$/.test(readFileSync(`/proc/${pid}/wchan`, 'utf8').trim());
  } catch {
    return false;
  }
}

/** Alive = exists and is not a zombie (an orphan may wait a while for a busy or absent reaper). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** A RunContext that records publications in memory (no bus, no outbox). */
export class Recorder {
  readonly pubs: { channel: string; data: Record<string, unknown> }[] = [];
  full = false;
  private drainListeners = new Set<() => void>();
  readonly context = {
    publish: (channel: string, data: unknown): void => void this.pubs.push({ channel, data: data as Record<string, unknown> }),
    backpressure: {
      isFull: (): boolean => this.full,
      onDrain: (l: () => void): (() => void) => {
        this.drainListeners.add(l);
        return () => this.drainListeners.delete(l);
      },
    },
    lines: (): void => undefined,
    maxPublicationBytes: 65_536,
    killGraceMs: 300,
    defaultPath: '/usr/local/bin:/usr/bin:/bin',
    logger: silentLogger,
  };
  on(channel: string): Record<string, unknown>[] {
    return this.pubs.filter((p) => p.channel === channel).map((p) => p.data);
  }
  lines(job: string, run?: string, stream = 'stdout'): string[] {
    return this.on(`cmd:${job}`)
      .filter((d) => d.stream === stream && (run === undefined || d.run === run))
      .flatMap((d) => d.lines as string[]);
  }
  drain(): void {
    this.full = false;
    for (const l of [...this.drainListeners]) l();
  }
}

/** The data of every publication retained on a channel, parsed. */
export async function published(bus: Bus, channel: string): Promise<Record<string, unknown>[]> {
  const h = await bus.history(channel);
  return h.publications.map((p) => (JSON.parse(p.frame.toString('utf8')) as { data: Record<string, unknown> }).data);
}

/** Every output line of a run on `cmd:<job>`, per stream, in order. */
export async function outputLines(bus: Bus, job: string, run?: string, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string[]> {
  const pubs = await published(bus, `cmd:${job}`);
  return pubs
    .filter((d) => d.stream === stream && (run === undefined || d.run === run))
    .flatMap((d) => d.lines as string[]);
}

/**
 * A MemoryBus whose availability tests control: `down()` makes it not ready and every publish reject,
 * `stall()` leaves publishes pending until `up()`.
 */
export class FlakyBus implements Bus {
  readonly kind = 'memory' as const;
  readonly inner = memoryBus();
  private mode: 'up' | 'down' | 'stalled' = 'up';
  private readonly stalled: (() => void)[] = [];
  /** Publish calls that reached this bus (including rejected ones)… */
  attempts = 0;
  /** …and when (performance.now()). */
  readonly attemptTimes: number[] = [];

  down(): void {
    this.mode = 'down';
  }
  stall(): void {
    this.mode = 'stalled';
  }
  up(): void {
    this.mode = 'up';
    for (const go of this.stalled.splice(0)) go();
  }
  /** Ready, but publishes fail (the bus accepted the connection but cannot publish). */
  rejecting = false;

  setHandler(handler: BusHandler): void {
    this.inner.setHandler(handler);
  }
  async publish(channel: string, dataJson: string): Promise<StreamPosition> {
    this.attempts++;
    this.attemptTimes.push(performance.now());
    if (this.mode === 'down' || this.rejecting) throw new BusUnavailableError('bus is down (test)');
    if (this.mode === 'stalled') await new Promise<void>((r) => this.stalled.push(r));
    return this.inner.publish(channel, dataJson);
  }
  subscribe(channel: string): Promise<void> {
    return this.inner.subscribe(channel);
  }
  unsubscribe(channel: string): Promise<void> {
    return this.inner.unsubscribe(channel);
  }
  history(channel: string, query?: HistoryQuery): Promise<HistoryResult> {
    return this.inner.history(channel, query);
  }
  publishControl(message: string): Promise<void> {
    return this.inner.publishControl(message);
  }

  listenControl(listener: (message: string) => void): Promise<() => void> {
    return this.inner.listenControl(listener);
  }

  /** isReady() calls: the outbox asks before each attempt and, while down, retries by asking again. */
  readyChecks = 0;
  isReady(): boolean {
    this.readyChecks++;
    return this.mode !== 'down';
  }
  async close(): Promise<void> {
    this.up();
    await this.inner.close();
  }
}

export interface HttpReply {
  status: number;
  headers: Headers;
  body: any;
}

/** One HTTP request to 127.0.0.1; a JSON `body` (and any POST) is sent as application/json unless headers say otherwise. */
export async function http(port: number, method: string, path: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<HttpReply> {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  // A POST says application/json even without a body (the API refuses anything else: SPEC §10).
  if ((body !== undefined || method === 'POST') && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (metrics)
  }
  return { status: res.status, headers: res.headers, body: parsed };
}
