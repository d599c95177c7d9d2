import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long (default 15 s). */
  timeoutMs?: number;
  /** Poll this often (default 20 ms). */
  intervalMs?: number;
}

/** Thrown by a check to stop waiting at once (e.g. the process being waited for has exited). */
export class WaitAborted extends Error {
  override readonly name = 'WaitAborted';
}

/**
 * Polls `check` until it returns a truthy value and returns that value. A check that throws counts
 * as "not yet" (its last error is named in the timeout message), except for `WaitAborted`, which
 * ends the wait at once. The one way Megaphone's tests, bench and launchers wait for a condition.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      if (err instanceof WaitAborted) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}
