import { randomBytes } from 'node:crypto';
import { backoffDelay, EQUAL_JITTER, jobChannel } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import { formatDuration } from './duration.js';
import type { JobSpec, RestartPolicy } from './jobs-file.js';
import { Run, type RunContext, type RunOutcome, type RunSummary, type RunTrigger } from './run.js';

export interface RestartBackoff {
  /** First delay before a restart. */
  initialMs: number;
  /** Delays double up to this. */
  maxMs: number;
  /** A run that lasted at least this long was healthy: the next restart starts from `initialMs` again. */
  healthyAfterMs: number;
}

export const DEFAULT_RESTART_BACKOFF: RestartBackoff = { initialMs: 1000, maxMs: 60_000, healthyAfterMs: 30_000 };

export interface JobManagerMetrics {
  runStarted(job: string): void;
  runEnded(job: string, outcome: RunOutcome): void;
}

export interface JobManagerOptions {
  jobs: readonly JobSpec[];
  run: RunContext;
  logger: Logger;
  metrics?: JobManagerMetrics;
  backoff?: RestartBackoff;
  /** Finished runs kept for `GET /v1/runs/{run}`. */
  keepFinishedRuns?: number;
  /** Begin as a standby that starts nothing until `lead` (a producer among several); default false. */
  standby?: boolean;
  /** Told of every run's start and end (the producer records its runs with its lease). */
  watcher?: { started(run: Run): void; ended(run: Run, byShutdown: boolean): void };
}

/** What a new leader starts (SPEC §12): boot runs only for the cluster's first leader. */
export interface LeadPlan {
  boot: boolean;
  /** Jobs whose runs the previous leader lost or stopped to hand over: started again now unless `restart: never`. */
  resume: readonly string[];
}

/** What `GET /v1/jobs` shows for one job. */
export interface JobStatus {
  name: string;
  description: string | null;
  channel: string;
  every: string | null;
  timeout: string | null;
  restart: RestartPolicy;
  state: 'running' | 'idle' | 'restarting';
  run: string | null;
  nextRunAt: string | null;
  lastRun: RunSummary | null;
}

export type StartRunResult = { ok: true; run: Run } | { ok: false; reason: 'not_found' | 'running' | 'closed' | 'standby' };
export type StopRunResult = 'stopping' | 'not_found' | 'finished';

interface JobState {
  readonly spec: JobSpec;
  current: Run | undefined;
  last: RunSummary | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  restartAt: number | undefined;
  /** Consecutive restarts without a healthy run, for the backoff. */
  restarts: number;
  everyTimer: NodeJS.Timeout | undefined;
  nextTickAt: number | undefined;
}

/**
 * Owns the jobs: one run per job at a time, `every` schedules (a tick that finds the job still
 * running is skipped), restart policies with capped, jittered exponential backoff that resets after a
 * healthy run, and a bounded registry of runs.
 */
export class JobManager {
  private readonly jobs = new Map<string, JobState>();
  private readonly runs = new Map<string, Run>();
  private readonly backoff: RestartBackoff;
  private readonly keepFinished: number;
  private closed = false;
  /** Starts runs only while leading (from the start, or from `lead` until `standDown`). */
  private leading: boolean;
  /** Schedules are armed (`lead` ran). */
  private scheduled = false;

  constructor(private readonly opts: JobManagerOptions) {
    this.backoff = opts.backoff ?? DEFAULT_RESTART_BACKOFF;
    this.keepFinished = opts.keepFinishedRuns ?? 500;
    this.leading = opts.standby !== true;
    for (const spec of opts.jobs) {
      this.jobs.set(spec.name, {
        spec,
        current: undefined,
        last: undefined,
        restartTimer: undefined,
        restartAt: undefined,
        restarts: 0,
        everyTimer: undefined,
        nextTickAt: undefined,
      });
    }
  }

  /** Starts the boot runs and the schedules (a producer that is the only one: always the leader). */
  start(): void {
    this.lead({ boot: true, resume: [] });
  }

  /** Becomes the one that runs the jobs: schedules, then boot runs or restarts of lost runs. */
  lead(plan: LeadPlan): void {
    if (this.closed || this.scheduled) return;
    this.leading = true;
    this.scheduled = true;
    for (const state of this.jobs.values()) {
      const every = state.spec.everyMs;
      if (every !== undefined) {
        state.nextTickAt = Date.now() + every;
        state.everyTimer = setInterval(() => {
          state.nextTickAt = Date.now() + every;
          if (state.current !== undefined) {
            this.opts.logger.debug({ job: state.spec.name }, 'schedule tick skipped: the previous run is still going');
            return;
          }
          this.startRun(state.spec.name, 'schedule');
        }, every);
      }
      if (plan.boot && state.spec.startOnBoot) this.startRun(state.spec.name, 'boot');
      else if (plan.resume.includes(state.spec.name) && state.spec.restart !== 'never') this.startRun(state.spec.name, 'restart', 1);
    }
  }

  /**
   * Another producer leads now (or may, once our lease runs out): schedules and restarts stop and
   * every run's process group is killed at once; their ends are the next leader's to announce.
   */
  standDown(): void {
    if (!this.leading) return;
    this.leading = false;
    this.scheduled = false;
    for (const s of this.jobs.values()) {
      this.stopTimers(s);
      s.current?.lose();
    }
  }

  get isLeading(): boolean {
    return this.leading;
  }

  /** `attempt`: for restarts, the how-many-th restart in a row without a healthy run (1, 2, …). */
  startRun(name: string, trigger: RunTrigger, attempt?: number): StartRunResult {
    if (this.closed) return { ok: false, reason: 'closed' };
    if (!this.leading) return { ok: false, reason: 'standby' };
    const state = this.jobs.get(name);
    if (state === undefined) return { ok: false, reason: 'not_found' };
    if (state.current !== undefined) return { ok: false, reason: 'running' };
    this.cancelRestart(state);
    let id = newRunId();
    while (this.runs.has(id)) id = newRunId();
    const run = new Run(id, state.spec, trigger, this.opts.run, attempt);
    state.current = run;
    this.runs.set(id, run);
    this.prune();
    this.opts.metrics?.runStarted(name);
    run.ended.then((summary) => this.ended(state, run, summary));
    this.opts.watcher?.started(run);
    run.start();
    return { ok: true, run };
  }

  getRun(id: string): Run | undefined {
    return this.runs.get(id);
  }

  stopRun(id: string): StopRunResult {
    const run = this.runs.get(id);
    if (run === undefined) return 'not_found';
    return run.stop() ? 'stopping' : 'finished';
  }

  has(name: string): boolean {
    return this.jobs.has(name);
  }

  list(): JobStatus[] {
    return [...this.jobs.values()].map((s) => {
      const spec = s.spec;
      const next = s.restartAt ?? (s.current === undefined ? s.nextTickAt : undefined);
      return {
        name: spec.name,
        description: spec.description ?? null,
        channel: jobChannel(spec.name),
        every: spec.everyMs !== undefined ? formatDuration(spec.everyMs) : null,
        timeout: spec.timeoutMs !== undefined ? formatDuration(spec.timeoutMs) : null,
        restart: spec.restart,
        state: s.current !== undefined ? 'running' : s.restartTimer !== undefined ? 'restarting' : 'idle',
        run: s.current?.id ?? null,
        nextRunAt: next !== undefined ? new Date(next).toISOString() : null,
        lastRun: s.current?.summary() ?? s.last ?? null,
      };
    });
  }

  get activeRuns(): number {
    let n = 0;
    for (const s of this.jobs.values()) if (s.current !== undefined) n++;
    return n;
  }

  private ended(state: JobState, run: Run, summary: RunSummary): void {
    if (state.current === run) state.current = undefined;
    state.last = summary;
    this.opts.watcher?.ended(run, this.closed);
    this.opts.metrics?.runEnded(state.spec.name, summary.outcome ?? 'failure');
    this.prune();
    const log = summary.outcome === 'success' || summary.outcome === 'killed' ? this.opts.logger.debug : this.opts.logger.info;
    log.call(this.opts.logger, { job: state.spec.name, run: run.id, code: summary.code, signal: summary.signal, outcome: summary.outcome, durationMs: summary.durationMs }, 'run ended');
    if (this.closed || summary.stopped || !this.leading) {
      state.restarts = 0;
      return;
    }
    const policy = state.spec.restart;
    const restart = policy === 'always' || (policy === 'on-failure' && summary.outcome !== 'success');
    if (!restart) return;
    if ((summary.durationMs ?? 0) >= this.backoff.healthyAfterMs) state.restarts = 0;
    state.restarts++;
    const attempt = state.restarts;
    const delay = restartDelayMs(this.backoff, attempt);
    state.restartAt = Date.now() + delay;
    state.restartTimer = setTimeout(() => {
      state.restartTimer = undefined;
      state.restartAt = undefined;
      this.startRun(state.spec.name, 'restart', attempt);
    }, delay);
    this.opts.logger.debug({ job: state.spec.name, delayMs: delay, attempt: state.restarts }, 'restart scheduled');
  }

  private stopTimers(s: JobState): void {
    this.cancelRestart(s);
    if (s.everyTimer !== undefined) clearInterval(s.everyTimer);
    s.everyTimer = undefined;
    s.nextTickAt = undefined;
  }

  private cancelRestart(state: JobState): void {
    if (state.restartTimer !== undefined) clearTimeout(state.restartTimer);
    state.restartTimer = undefined;
    state.restartAt = undefined;
  }

  /** Drops the oldest finished runs beyond `keepFinishedRuns` (Map order is start order). */
  private prune(): void {
    let excess = this.runs.size - this.keepFinished - this.activeRuns;
    if (excess <= 0) return;
    for (const [id, run] of this.runs) {
      if (excess <= 0) break;
      if (!run.running) {
        this.runs.delete(id);
        excess--;
      }
    }
  }

  /**
   * Stops schedules and restarts, terminates every running process group (SIGTERM, SIGKILL after
   * the grace) and waits up to `timeoutMs` for the runs to end.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending: Promise<unknown>[] = [];
    for (const s of this.jobs.values()) {
      this.stopTimers(s);
      const run = s.current;
      if (run !== undefined) {
        run.stop();
        run.unblock();
        pending.push(run.ended);
      }
    }
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(pending), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }
}

/**
 * The delay before restart number `attempt` (1, 2, …) in a row: `initialMs` doubling per attempt up
 * to `maxMs`, with equal jitter (between half and all of it) so that jobs failing together do not
 * restart in lockstep.
 */
export function restartDelayMs(backoff: RestartBackoff, attempt: number, random: () => number = Math.random): number {
  return backoffDelay({ initialMs: backoff.initialMs, maxMs: backoff.maxMs, jitter: EQUAL_JITTER }, attempt - 1, random);
}

/** 12 URL-safe characters: unique enough that collisions are checked for, never expected. */
function newRunId(): string {
  return randomBytes(9).toString('base64url');
}
