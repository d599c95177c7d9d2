import type { Publication } from '@megaphone/bus';
import type { ServerMessage, StreamPosition } from '@megaphone/protocol';
import type { Framing } from './types.js';

/** Waiting for its bus subscription and its first history read; gets nothing live. */
export const JOINING = 0;
/** Gets live batches; `last` is the offset of the last publication queued for it. */
export const LIVE = 1;
/** Paused: a catch-up from history is running or waits for its connection to drain. */
export const CATCHING_UP = 2;
export const CLOSED = 3;
export type SubState = typeof JOINING | typeof LIVE | typeof CATCHING_UP | typeof CLOSED;

/** What a subscription sees of its channel on this node (the channel implements it). */
export interface Stream {
  readonly name: string;
  readonly namespace: string;
  /** undefined until the node has seen a publication or read the channel's position. */
  readonly epoch: string | undefined;
  /** Offset of the last publication already handed to subscribers. */
  readonly distributed: number;
  /** Offset of the last publication the node accepted (distributed or in this turn's batch). */
  readonly offset: number;
  /** The latest accepted publication (conflation hands it to lagging connections). */
  readonly latest: Publication | undefined;
  /** Settles when the bus subscription is in place; rejects if it failed. */
  readonly ready: Promise<void>;
  /** The channel's current position, read from history once and then tracked from the bus. */
  position(): StreamPosition | Promise<StreamPosition>;
  /** Adopts a position read from history when the node has none yet. */
  sync(epoch: string, offset: number): void;
  /** Checks the node's position against history. */
  verify(): void;
  add(sub: Subscription): void;
  /** Removes a subscriber (the last one's removal releases the channel). */
  remove(sub: Subscription): void;
}

/** What a subscription sees of its connection (the connection implements it). */
export interface Outlet {
  readonly id: number;
  readonly closed: boolean;
  /** Over its cap: live batches are not queued; subscriptions catch up after a drain. */
  readonly lagging: boolean;
  readonly framing: Framing;
  /**
   * A live chunk (from `framing.run`), shared with other subscribers: the bytes written at once,
   * 0 when queued for the end-of-turn flush, -1 when the connection is over its cap.
   */
  deliver(chunk: Buffer): number;
  /** False when the connection is over its cap. */
  hasRoom(): boolean;
  /** Queues the publication after `sub.last` (and advances it), whatever the cap. */
  push(sub: Subscription, pub: Publication): void;
  control(msg: ServerMessage): void;
  /** The connection went over its cap: the subscription pauses; `missed` are counted as dropped. */
  pause(sub: Subscription, missed: number): void;
  /** The subscription went live. */
  live(sub: Subscription): void;
  /** History can no longer cover this slow consumer: close 4000. */
  closeSlow(): void;
  /** Ends the subscription (its subscribe failed). */
  drop(sub: Subscription): void;
  /** Bytes the connection can still take before its cap (negative when over it). */
  room(): number;
  /**
   * One of the connection's history-read slots: undefined when one is free (taken at once),
   * else a promise that settles when one is handed over (or the connection closes).
   */
  takeReadSlot(): Promise<void> | undefined;
  giveReadSlot(): void;
}

/** One connection's subscription to one channel. Kept small: there may be millions. */
export class Subscription {
  state: SubState = JOINING;
  /** Epoch of `last`; '' until the subscription has a position. */
  epoch = '';
  /** Offset of the last publication queued for this subscriber (or the position it started at). */
  last = 0;
  /** Index in its channel's subscriber list (swap-remove). */
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
    readonly outlet: Outlet,
    readonly channel: Stream,
    readonly id: number,
  ) {}

  /** Its position as a `StreamPosition` (the SSE id lists it). */
  get offset(): number {
    return this.last;
  }
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
