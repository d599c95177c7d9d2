import type { ClientConnection } from './connections.js';

/** Clients are told to come back after about this long, ±50 %, so reconnects spread out too. */
export const DRAIN_RETRY_BASE_MS = 1000;

export function retryHintMs(random: () => number = Math.random): number {
  return Math.round(DRAIN_RETRY_BASE_MS * (0.5 + random()));
}

/**
 * Closes `conns` one by one, spread evenly over `windowMs` (connection i at i·window/n), in random
 * order, so that the other gateways see a ramp of reconnects instead of a thundering herd.
 * Resolves when the last one has been asked to close.
 */
export function closeSpread(
  conns: readonly ClientConnection[],
  windowMs: number,
  hint: () => number = retryHintMs,
): Promise<void> {
  const order = [...conns];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const n = order.length;
  if (n === 0) return Promise.resolve();
  const start = Date.now();
  let next = 0;
  const closeDue = (): boolean => {
    const due = windowMs <= 0 ? n : Math.min(n, Math.floor(((Date.now() - start) * n) / windowMs) + 1);
    while (next < due) order[next++]!.drain(hint());
    return next >= n;
  };
  if (closeDue()) return Promise.resolve();
  // One timer ticking at the pace of the closes (at most every 5 ms, at least every 100 ms).
  const tickMs = Math.max(5, Math.min(100, windowMs / n));
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (closeDue()) {
        clearInterval(timer);
        resolve();
      }
    }, tickMs);
  });
}
