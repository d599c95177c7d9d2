/**
 * The jobs and their state, folded from the lifecycle events on the `jobs` channel:
 * `{"job","run","event":"started",…}` and `{"job","run","event":"exited","code","signal",
 * "durationMs","timedOut","outcome",…}`.
 */
/** `lost`: the run's producer stopped leading (or died) while it ran (SPEC §12). */
export type JobStatus = 'running' | 'success' | 'failure' | 'timeout' | 'killed' | 'lost';

export interface JobState {
  name: string;
  status: JobStatus;
  run: string;
  /** Publish time of the last lifecycle event (ms). */
  since: number;
  startedAt?: string;
  code?: number | null;
  signal?: string | null;
  durationMs?: number | null;
  error?: string;
  runs: number;
}

interface LifecycleEvent {
  job: string;
  run: string;
  event: 'started' | 'exited';
  [key: string]: unknown;
}

export function isLifecycleEvent(data: unknown): data is LifecycleEvent {
  if (typeof data !== 'object' || data === null) return false;
  const d = data as Record<string, unknown>;
  return typeof d['run'] === 'string' && (d['event'] === 'started' || d['event'] === 'exited');
}

export class JobsModel {
  private readonly jobs = new Map<string, JobState>();

  /** Applies one publication of the `jobs` channel; returns whether anything changed. */
  apply(data: unknown, ts: number): boolean {
    if (!isLifecycleEvent(data) || typeof data.job !== 'string') return false;
    const prev = this.jobs.get(data.job);
    if (data.event === 'started') {
      this.jobs.set(data.job, {
        name: data.job,
        status: 'running',
        run: data.run,
        since: ts,
        ...(typeof data['startedAt'] === 'string' ? { startedAt: data['startedAt'] } : {}),
        runs: (prev?.runs ?? 0) + 1,
      });
      return true;
    }
    // An exit of an older run than the one shown (events replayed out of interest) changes nothing.
    if (prev !== undefined && prev.run !== data.run && prev.status === 'running') return false;
    this.jobs.set(data.job, {
      name: data.job,
      status: outcomeOf(data),
      run: data.run,
      since: ts,
      ...(prev?.startedAt !== undefined && prev.run === data.run ? { startedAt: prev.startedAt } : {}),
      code: typeof data['code'] === 'number' ? data['code'] : null,
      signal: typeof data['signal'] === 'string' ? data['signal'] : null,
      durationMs: typeof data['durationMs'] === 'number' ? data['durationMs'] : null,
      ...(typeof data['error'] === 'string' ? { error: data['error'] } : {}),
      runs: prev?.runs ?? 1,
    });
    return true;
  }

  clear(): void {
    this.jobs.clear();
  }

  list(): JobState[] {
    return [...this.jobs.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): JobState | undefined {
    return this.jobs.get(name);
  }
}

function outcomeOf(data: LifecycleEvent): JobStatus {
  const outcome = data['outcome'];
  if (outcome === 'success' || outcome === 'failure' || outcome === 'timeout' || outcome === 'killed' || outcome === 'lost') return outcome;
  if (data['timedOut'] === true) return 'timeout';
  if (data['stopped'] === true) return 'killed';
  return data['code'] === 0 ? 'success' : 'failure';
}

/** "1.2s", "3m 04s", "2h 05m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = ms / 1000;
  // Below 59.95 s one decimal never rounds up to "60.0s".
  if (ms < 59_950) return `${s.toFixed(1)}s`;
  const whole = Math.round(s);
  const m = Math.floor(whole / 60);
  if (m < 60) return `${m}m ${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}
