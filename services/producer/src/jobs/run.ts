import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { jobChannel, JOBS_CHANNEL } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import type { JobSpec } from './jobs-file.js';
import { LineSplitter } from './line-splitter.js';
import { OutputBatcher, type StreamName } from './output-batcher.js';
import { groupAlive, signalGroup } from './process-group.js';
import { guardProcessGroup, type RunGuard } from './run-guard.js';

export type RunTrigger = 'boot' | 'schedule' | 'restart' | 'api';
/** `lost`: the run's producer lost its leadership (or died) while the run was going (SPEC §12). */
export type RunOutcome = 'success' | 'failure' | 'timeout' | 'killed' | 'lost';

/** What `GET /v1/runs/{run}` shows. */
export interface RunSummary {
  run: string;
  job: string;
  state: 'running' | 'exited';
  trigger: RunTrigger;
  pid: number | null;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Stopped on request (`DELETE /v1/runs/{run}`) or by shutdown. */
  stopped: boolean;
  /** Why the command could not be started (e.g. `spawn ENOENT`). */
  error: string | null;
  outcome: RunOutcome | null;
}

/** What a run needs from the producer around it. */
export interface RunContext {
  /** Queues a publication (the outbox); returns nothing, ordering is per channel. */
  publish(channel: string, data: unknown): void;
  /** Output backpressure: readers pause while the outbox is full. */
  backpressure: { isFull(): boolean; onDrain(listener: () => void): () => void };
  lines(stream: StreamName, count: number): void;
  maxPublicationBytes: number;
  killGraceMs: number;
  /** `PATH` given to children unless the job's `env` sets its own. */
  defaultPath: string;
  logger: Logger;
  now?: () => number;
}

export const DEFAULT_CHILD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * One execution of a job: the command runs without a shell, with stdin closed, in its own process
 * group (so a timeout or a stop reaches grandchildren too), with only `PATH` and the job's `env`.
 * When the leader exits, whatever it left behind in its group is terminated as well: a run owns
 * every process it started, and the next run of the job never overlaps a previous one.
 */
export class Run {
  private child: ChildProcess | undefined;
  private readonly startedAtMs: number;
  private endedAtMs: number | undefined;
  private code: number | null = null;
  private signal: string | null = null;
  private timedOut = false;
  private stopped = false;
  /** Killed because this producer lost its lease: the next leader announces the end (SPEC §12). */
  private lost = false;
  private guard: RunGuard | undefined;
  private error: string | null = null;
  private finished = false;
  private exited = false;
  private killTimer: NodeJS.Timeout | undefined;
  private pipeTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private paused = false;
  private unlistenDrain: (() => void) | undefined;
  private readonly batcher: OutputBatcher;
  private readonly streams: Readable[] = [];
  private readonly now: () => number;
  private resolveEnded!: (s: RunSummary) => void;
  /** Resolves once the run is over: leader exited, output read and published, `exited` queued. */
  readonly ended: Promise<RunSummary>;

  constructor(
    readonly id: string,
    readonly job: JobSpec,
    readonly trigger: RunTrigger,
    private readonly ctx: RunContext,
    /** For restarts: the how-many-th in a row without a healthy run. */
    readonly attempt?: number,
  ) {
    this.now = ctx.now ?? Date.now;
    this.startedAtMs = this.now();
    this.ended = new Promise((r) => (this.resolveEnded = r));
    this.batcher = new OutputBatcher(id, ctx.maxPublicationBytes, (pub) => {
      if (this.lost) return;
      this.ctx.publish(jobChannel(this.job.name), pub);
      this.applyBackpressure();
    });
  }

  get running(): boolean {
    return !this.finished;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const job = this.job;
    const env: Record<string, string> = { PATH: this.ctx.defaultPath, ...job.env };
    let child: ChildProcess;
    try {
      child = spawn(job.command[0]!, job.command.slice(1), {
        cwd: job.cwd,
        env,
        detached: true,
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (err) {
      this.failToStart(err);
      return;
    }
    this.child = child;
    if (child.pid === undefined) {
      // Spawning failed (ENOENT, EACCES…): node reports it on 'error' in a moment.
      child.once('error', (err) => this.failToStart(err));
      return;
    }
    this.guard = guardProcessGroup(child.pid, (err) => this.ctx.logger.warn({ err, job: job.name, run: this.id }, 'the run\'s guard could not start: the run would outlive a killed producer'));
    this.lifecycle({ event: 'started', pid: child.pid, ...this.startInfo() });
    this.ctx.logger.debug({ job: job.name, run: this.id, pid: child.pid, trigger: this.trigger }, 'run started');
    child.on('error', (err) => this.ctx.logger.warn({ err, job: job.name, run: this.id }, 'child process error'));
    this.read(child.stdout!, 'stdout');
    this.read(child.stderr!, 'stderr');
    if (job.timeoutMs !== undefined) {
      this.timeoutTimer = setTimeout(() => {
        this.timeoutTimer = undefined;
        this.timedOut = true;
        this.ctx.logger.info({ job: job.name, run: this.id, timeoutMs: job.timeoutMs }, 'run timed out; killing its process group');
        this.terminate();
      }, job.timeoutMs);
    }
    child.once('exit', (code, signal) => {
      this.exited = true;
      this.code = code;
      this.signal = signal;
      this.endedAtMs = this.now();
      this.clearTimeout();
      // Leftovers of the run (background grandchildren) would hold its pipes open and outlive it.
      if (groupAlive(child.pid!)) this.terminate();
      this.watchPipes();
    });
    child.once('close', () => this.finish());
  }

  private read(stream: Readable, name: StreamName): void {
    this.streams.push(stream);
    const splitter = new LineSplitter(this.job.maxLineBytes);
    stream.on('data', (chunk: Buffer) => {
      const lines = splitter.push(chunk);
      this.ctx.lines(name, lines.length);
      this.batcher.add(name, lines);
    });
    stream.once('end', () => {
      const rest = splitter.end();
      this.ctx.lines(name, rest.length);
      this.batcher.add(name, rest);
    });
  }

  /** Pauses reading while the outbox is full: the command then blocks on its pipe. */
  private applyBackpressure(): void {
    if (this.paused || this.finished || !this.ctx.backpressure.isFull()) return;
    this.paused = true;
    for (const s of this.streams) s.pause();
    this.ctx.logger.debug({ job: this.job.name, run: this.id }, 'outbox full: pausing output');
    this.unlistenDrain = this.ctx.backpressure.onDrain(() => this.resume());
  }

  private resume(): void {
    this.unlistenDrain?.();
    this.unlistenDrain = undefined;
    if (!this.paused) return;
    this.paused = false;
    for (const s of this.streams) s.resume();
  }

  /** Stops the run: SIGTERM to its process group, SIGKILL after the grace. False when already over. */
  stop(): boolean {
    if (this.finished) return false;
    this.stopped = true;
    this.terminate();
    return true;
  }

  /**
   * This producer is no longer the leader: SIGKILL the group at once (another leader may start the
   * job within the lease's safety margin) and publish nothing more of the run; its output and end
   * are no longer ours to announce (the next leader announces it as `lost`).
   */
  lose(): void {
    if (this.finished) return;
    this.lost = true;
    const pid = this.child?.pid;
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
    this.resume();
  }

  /** For shutdown: keep reading even if the outbox is full, so that the pipes close and the run ends. */
  unblock(): void {
    this.resume();
  }

  private terminate(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    signalGroup(pid, 'SIGTERM');
    if (this.killTimer !== undefined) return;
    this.killTimer = setTimeout(() => {
      this.killTimer = undefined;
      if (signalGroup(pid, 'SIGKILL')) this.ctx.logger.warn({ job: this.job.name, run: this.id }, 'process group ignored SIGTERM; sent SIGKILL');
    }, this.ctx.killGraceMs);
  }

  /**
   * After the leader exited and its group was terminated, the pipes close unless a process that
   * left the group (`setsid`, a daemon) still holds them. Then, once the grace is over and nothing
   * is paused on our side, the pipes are closed by us so that the run ends.
   */
  private watchPipes(): void {
    this.pipeTimer = setTimeout(() => {
      this.pipeTimer = undefined;
      if (this.finished) return;
      if (this.paused) {
        this.watchPipes();
        return;
      }
      this.ctx.logger.warn({ job: this.job.name, run: this.id }, 'a process outside the run\'s group holds its output open; closing the pipes');
      for (const s of this.streams) s.destroy();
    }, this.ctx.killGraceMs + 500);
  }

  private clearTimeout(): void {
    if (this.timeoutTimer !== undefined) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
  }

  private failToStart(err: unknown): void {
    if (this.finished) return;
    this.error = err instanceof Error ? err.message : String(err);
    this.ctx.logger.warn({ job: this.job.name, run: this.id, error: this.error }, 'run could not start');
    this.lifecycle({ event: 'started', pid: null, ...this.startInfo() });
    this.endedAtMs = this.now();
    this.exited = true;
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.guard?.dispose();
    this.clearTimeout();
    if (this.pipeTimer !== undefined) clearTimeout(this.pipeTimer);
    this.pipeTimer = undefined;
    this.unlistenDrain?.();
    this.endedAtMs ??= this.now();
    const pid = this.child?.pid;
    if (this.killTimer !== undefined && (pid === undefined || !groupAlive(pid))) {
      clearTimeout(this.killTimer);
      this.killTimer = undefined;
    }
    const s = this.summary();
    if (this.lost) {
      this.resolveEnded(s);
      return;
    }
    this.batcher.flush();
    this.lifecycle({
      event: 'exited',
      code: s.code,
      signal: s.signal,
      durationMs: s.durationMs,
      timedOut: s.timedOut,
      ...(s.stopped ? { stopped: true } : {}),
      ...(s.error !== null ? { error: s.error } : {}),
      outcome: s.outcome,
    });
    this.resolveEnded(s);
  }

  private startInfo(): Record<string, unknown> {
    return {
      trigger: this.trigger,
      ...(this.attempt !== undefined ? { attempt: this.attempt } : {}),
      startedAt: new Date(this.startedAtMs).toISOString(),
    };
  }

  private lifecycle(event: Record<string, unknown>): void {
    this.ctx.publish(jobChannel(this.job.name), { run: this.id, ...event });
    this.ctx.publish(JOBS_CHANNEL, { run: this.id, job: this.job.name, ...event });
  }

  private outcome(): RunOutcome | null {
    if (!this.finished && !this.exited) return null;
    if (this.lost) return 'lost';
    if (this.timedOut) return 'timeout';
    if (this.stopped) return 'killed';
    return this.code === 0 ? 'success' : 'failure';
  }

  summary(): RunSummary {
    const over = this.finished;
    return {
      run: this.id,
      job: this.job.name,
      state: over ? 'exited' : 'running',
      trigger: this.trigger,
      pid: this.child?.pid ?? null,
      startedAt: new Date(this.startedAtMs).toISOString(),
      endedAt: over && this.endedAtMs !== undefined ? new Date(this.endedAtMs).toISOString() : null,
      durationMs: over && this.endedAtMs !== undefined ? this.endedAtMs - this.startedAtMs : null,
      code: this.code,
      signal: this.signal,
      timedOut: this.timedOut,
      stopped: this.stopped,
      error: this.error,
      outcome: over ? this.outcome() : null,
    };
  }
}
