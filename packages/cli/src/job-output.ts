/** What the producer publishes on `cmd:<job>` (services/producer/README.md). */
export interface OutputPublication {
  run: string;
  stream: 'stdout' | 'stderr';
  lines: string[];
  truncated?: boolean;
}

export interface LifecycleEvent {
  run: string;
  event: 'started' | 'exited';
  job?: string;
  code?: number | null;
  signal?: string | null;
  durationMs?: number | null;
  timedOut?: boolean;
  stopped?: boolean;
  error?: string | null;
  outcome?: string | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isOutput(data: unknown): data is OutputPublication {
  return (
    isRecord(data) &&
    typeof data.run === 'string' &&
    (data.stream === 'stdout' || data.stream === 'stderr') &&
    Array.isArray(data.lines) &&
    data.lines.every((l) => typeof l === 'string')
  );
}

export function isLifecycle(data: unknown): data is LifecycleEvent {
  return isRecord(data) && typeof data.run === 'string' && (data.event === 'started' || data.event === 'exited');
}

/**
 * Why a run did not end with an exit code of its own, or undefined when it did:
 * timed out, killed or stopped, lost with its producer, or never started.
 */
export function abnormalEnd(e: LifecycleEvent): string | undefined {
  if (e.outcome === 'lost') return 'was lost (the producer running it went away)';
  if (e.timedOut === true || e.outcome === 'timeout') return `timed out${e.signal ? ` (${e.signal})` : ''}`;
  if (e.error !== undefined && e.error !== null) return `could not start: ${e.error}`;
  if (e.stopped === true) return `was stopped${e.signal ? ` (${e.signal})` : ''}`;
  if (typeof e.code !== 'number') return `was killed${e.signal ? ` by ${e.signal}` : ''}`;
  return undefined;
}
