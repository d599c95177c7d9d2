import type { Publication } from '@megaphone/bus';
import type { Channel } from './channel.js';
import type { Connection } from './connection.js';

/** Waiting for its bus subscription and its first history read; gets nothing live. */
export const JOINING = 0;
/** Gets live batches; `last` is the offset of the last publication queued for it. */
export const LIVE = 1;
/** Paused: a catch-up from history is running or waits for its connection to drain. */
export const CATCHING_UP = 2;
export const CLOSED = 3;
export type SubState = typeof JOINING | typeof LIVE | typeof CATCHING_UP | typeof CLOSED;

/** One connection's subscription to one channel. Kept small: there may be millions. */
export class Subscription {
  state: SubState = JOINING;
  /** Epoch of `last`; '' until the subscription has a position. */
  epoch = '';
  /** Offset of the last publication queued for this subscriber (or the position it started at). */
  last = 0;
  /** Index in `channel.subs` (swap-remove). */
  index = -1;
  /** Paused because its connection went over its cap (history loss then means close 4000). */
  lagged = false;
  /** A catch-up loop is running for it. */
  catchingUp = false;
  /** Settles when the subscribe command has been answered. */
  joined: Promise<void> | undefined = undefined;
  /**
   * While it joins or catches up: the live publications distributed meanwhile (references to the
   * shared ones), so that history plus this tail reach the node's position in one round even on
   * a busy channel. null when not collecting, or when it outgrew its bound.
   */
  tail: Publication[] | null = null;
  tailBytes = 0;

  constructor(
    readonly conn: Connection,
    readonly channel: Channel,
    readonly id: number,
  ) {}
}

/** After an await the state may have changed under a narrowed type; this re-reads it. */
export function isClosed(sub: Subscription): boolean {
  return sub.state === CLOSED;
}

/** Most publications a tail holds (its bytes are bounded by the connection's cap). */
const MAX_TAIL = 10_000;

/** Starts collecting live publications for a subscription that is about to read history. */
export function startTail(sub: Subscription): void {
  sub.tail = [];
  sub.tailBytes = 0;
}

export function stopTail(sub: Subscription): void {
  sub.tail = null;
  sub.tailBytes = 0;
}

/** Adds a batch to the tail; past its bound the tail is dropped (history is read again instead). */
export function appendTail(sub: Subscription, tail: Publication[], batch: readonly Publication[], maxBytes: number): void {
  for (let i = 0; i < batch.length; i++) {
    const pub = batch[i]!;
    tail.push(pub);
    sub.tailBytes += pub.frame.length;
  }
  if (tail.length > MAX_TAIL || sub.tailBytes > maxBytes) stopTail(sub);
}
