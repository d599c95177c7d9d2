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
   * Live deliveries: publish time → handed to the subscribers' sinks, in seconds, for `count`
   * deliveries of one publication. A channel hands its batch to every live subscriber in one
   * synchronous pass and reads the clock once when the pass ends, so this is called once per
   * publication per turn with the number of subscribers it went to, never once per subscriber
   * (subscribers queued for the end-of-turn flush are written in the same synchronous pass).
   */
  deliveryLatency(seconds: number, count: number): void;
  /**
   * Deliveries from history — `history`/`since` at subscribe, catch-up after a lag or a hole,
   * conflation: publish time → queued for the sink (written at the end of the same turn). A
   * subscriber that fell behind shows here with its whole delay.
   */
  replayLatency(seconds: number, count: number): void;
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
    replayLatency: m?.replayLatency?.bind(m) ?? noop,
    slowConsumer: m?.slowConsumer?.bind(m) ?? noop,
    dropped: m?.dropped?.bind(m) ?? noop,
    recovery: m?.recovery?.bind(m) ?? noop,
    gap: m?.gap?.bind(m) ?? noop,
    epochChanged: m?.epochChanged?.bind(m) ?? noop,
    clientError: m?.clientError?.bind(m) ?? noop,
  };
}
