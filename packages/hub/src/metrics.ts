export type SlowConsumerOutcome = 'lagged' | 'caught_up' | 'conflated' | 'disconnected';
/**
 * Why publications were not queued for a subscriber:
 * `slow_consumer` — its connection was over its cap (it is caught up from history later),
 * `conflated` — superseded by a later publication on a conflated channel,
 * `duplicate` — the bus delivered an offset the node had already seen.
 */
export type DropReason = 'slow_consumer' | 'conflated' | 'duplicate';
export type RecoveryResult = 'recovered' | 'not_recovered';
export type GapOutcome = 'filled' | 'lost';

/**
 * What the hub reports. Every callback is cheap to call from the hot path only in aggregate:
 * the hub calls them once per channel batch or once per flush, never once per subscriber.
 */
export interface HubMetrics {
  /** One publication arrived from the bus for a channel in `namespace`. */
  publicationReceived(namespace: string): void;
  /** `count` messages were handed to client queues (live, replay and catch-up). */
  delivered(namespace: string, count: number): void;
  /** One flush wrote `frames` chunks totalling `bytes` to sinks. */
  written(frames: number, bytes: number): void;
  /**
   * Publish time → written, in seconds. Observed once per publication per flush that wrote it
   * live (all of its subscribers are written in the same synchronous loop, so they share it);
   * replay and catch-up are not observed.
   */
  deliveryLatency(seconds: number): void;
  slowConsumer(outcome: SlowConsumerOutcome): void;
  dropped(reason: DropReason, count: number): void;
  /** A `since` subscribe. */
  recovery(result: RecoveryResult): void;
  /** A hole in a stream: filled from history, or lost (then a `gap` message or a 4000 close). */
  gap(outcome: GapOutcome): void;
  /** A channel's epoch changed under a live subscription. */
  epochChanged(): void;
  /** The hub answered a command with an `error` (code from the catalogue). */
  clientError(code: string): void;
}

const noop = (): void => {};

export function withDefaults(m: Partial<HubMetrics> | undefined): HubMetrics {
  return {
    publicationReceived: m?.publicationReceived?.bind(m) ?? noop,
    delivered: m?.delivered?.bind(m) ?? noop,
    written: m?.written?.bind(m) ?? noop,
    deliveryLatency: m?.deliveryLatency?.bind(m) ?? noop,
    slowConsumer: m?.slowConsumer?.bind(m) ?? noop,
    dropped: m?.dropped?.bind(m) ?? noop,
    recovery: m?.recovery?.bind(m) ?? noop,
    gap: m?.gap?.bind(m) ?? noop,
    epochChanged: m?.epochChanged?.bind(m) ?? noop,
    clientError: m?.clientError?.bind(m) ?? noop,
  };
}
