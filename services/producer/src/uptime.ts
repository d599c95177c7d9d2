export interface UptimeData {
  uptimeSeconds: number;
  startedAt: string;
  producer: string;
}

/**
 * Publishes `{"uptimeSeconds","startedAt","producer"}` now and every `intervalMs`. The value is
 * computed from the clock at each tick, so a delayed tick never makes the counter drift.
 * `startedAt` (ms) is when the producers' uptime began: a new leader continues its predecessor's count.
 */
export function startUptime(opts: { intervalMs: number; node: string; publish(data: UptimeData): void; now?: () => number; startedAt?: number }): () => void {
  const now = opts.now ?? Date.now;
  const started = opts.startedAt ?? now();
  const startedAt = new Date(started).toISOString();
  const tick = (): void => opts.publish({ uptimeSeconds: Math.max(0, Math.floor((now() - started) / 1000)), startedAt, producer: opts.node });
  tick();
  const timer = setInterval(tick, opts.intervalMs);
  return () => clearInterval(timer);
}
