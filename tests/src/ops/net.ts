import { createServer } from 'node:net';
import { waitFor } from '../cluster/wait.js';

/** A port that was free a moment ago (the Redis harness's picker). */
export { freePort } from '@megaphone/bus/testing';

/** True when `port` can be bound right now. */
export function portIsFree(port: number, host = '0.0.0.0'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** Polls `check` until it returns a truthy value; the last error is in the timeout message. */
export function poll<T>(what: string, check: () => T | Promise<T>, timeoutMs = 15_000, intervalMs = 100): Promise<NonNullable<T>> {
  return waitFor(what, check, { timeoutMs, intervalMs });
}

export async function getText(url: string, timeoutMs = 5000): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text() };
}
