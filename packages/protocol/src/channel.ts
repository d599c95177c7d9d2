/** Channel names: 1–128 characters of `A-Z a-z 0-9 _ - . :` (SPEC §2). */
export const MAX_CHANNEL_LENGTH = 128;

const CHANNEL_RE = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isValidChannel(name: unknown): name is string {
  return typeof name === 'string' && CHANNEL_RE.test(name);
}

/**
 * The part of a channel name before its first `:` (`cmd:build` → `cmd`).
 * A channel without `:` is in the default namespace, `""`.
 */
export function namespaceOf(channel: string): string {
  const i = channel.indexOf(':');
  return i < 0 ? '' : channel.slice(0, i);
}

/** Built-in channels published by the producer. */
export const UPTIME_CHANNEL = 'uptime';
export const JOBS_CHANNEL = 'jobs';
export function jobChannel(job: string): string {
  return `cmd:${job}`;
}
