import type { GapEvent } from '@megaphone/client';

/** One stderr line for a hole in a stream (SPEC §3: the client is told, never silently). */
export function describeGap(gap: GapEvent): string {
  const from = gap.from;
  switch (gap.kind) {
    case 'reset':
      if (from !== undefined && from.epoch !== gap.epoch) {
        return `gap on ${gap.channel}: the channel restarted (epoch ${from.epoch} → ${gap.epoch}); what came after offset ${from.offset} is lost, continuing after ${gap.epoch}:${gap.to}`;
      }
      return `gap on ${gap.channel}: ${range(from?.offset, gap.to)} no longer in history (${gap.reason}); continuing after ${gap.epoch}:${gap.to}`;
    case 'lost':
      return `gap on ${gap.channel}: ${range(from?.offset, gap.to)} lost (${gap.reason}); continuing after ${gap.epoch}:${gap.to}`;
    case 'skipped':
      return `gap on ${gap.channel}: ${range(from?.offset, gap.to)} never arrived (${gap.reason})`;
  }
}

function range(after: number | undefined, to: number): string {
  const first = (after ?? 0) + 1;
  return first === to ? `publication ${to}` : `publications ${first}–${to}`;
}

/** "1.5s", "2m 03s": a run's duration for people. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "3s ago", "in 4m": a time relative to now. */
export function relativeTime(iso: string | null | undefined, now: number): string {
  if (iso === null || iso === undefined) return '';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const d = t - now;
  const text = formatDuration(Math.abs(d)).replace(/\.\ds$/, 's');
  return d >= 0 ? `in ${text}` : `${text} ago`;
}
