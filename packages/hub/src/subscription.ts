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
