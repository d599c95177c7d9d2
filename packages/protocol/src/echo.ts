/**
 * Error messages may quote what a client sent (a field name, a channel, an op), but never more
 * than this many characters of it: a reply must not cost more than the command that caused it,
 * and a log line or an error body must not carry a client's payload.
 */
export const MAX_ECHO_CHARS = 40;

/** `value` in double quotes, cut to `MAX_ECHO_CHARS` characters with `…` when longer. */
export function quoteInput(value: string): string {
  const clipped = value.length > MAX_ECHO_CHARS ? `${value.slice(0, MAX_ECHO_CHARS)}…` : value;
  return JSON.stringify(clipped);
}
