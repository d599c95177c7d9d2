import type { StreamPosition } from '@megaphone/protocol';

/**
 * One publication as every node sees it. `frame` holds the bytes that subscribers receive, already
 * encoded once by the publisher (`{"op":"message",…}`); nodes forward it and never re-encode it.
 */
export interface Publication {
  readonly channel: string;
  readonly epoch: string;
  readonly offset: number;
  /** Publish time, ms since the Unix epoch (the start of end-to-end delivery latency). */
  readonly time: number;
  readonly frame: Buffer;
}

export interface HistoryQuery {
  /** Every retained publication after this position (resume). */
  since?: StreamPosition;
  /** At most this many of the latest publications (with `since`: the first this many after it). */
  limit?: number;
  /**
   * A page: the publications selected by `since`/`limit` are cut to the oldest ones whose frames
   * total at most this many bytes (always at least one, when there is any, so a reader moves on).
   * The reader gets the rest with `since` set to the last one it got. Redis stops reading there,
   * so a large history costs no more bytes on the wire than the reader can take.
   */
  maxBytes?: number;
}

export interface HistoryResult {
  /** The channel's current epoch. */
  epoch: string;
  /** The channel's latest offset (0 before its first publication). */
  offset: number;
  /** In ascending offset order with no gaps. */
  publications: Publication[];
  /**
   * With `since`: true when the epoch matches and history still holds every publication after
   * `since.offset` (all of them are in `publications`, unless `limit` cut the list). False otherwise,
   * and then `publications` is empty. Without `since`: always true.
   */
  recovered: boolean;
}

/** How much history a channel keeps, resolved per namespace from configuration. */
export interface HistoryPolicy {
  /** Publications kept (newest first); 0 keeps none. */
  size: number;
  /** Publications older than this are dropped. */
  ttlMs: number;
}

export type HistoryPolicyResolver = (channel: string) => HistoryPolicy;

/** What a bus pushes into its node. Registered once, before the first subscribe. */
export interface BusHandler {
  /** A publication on a channel this node subscribes to. */
  publication(pub: Publication): void;
  /**
   * The bus lost its subscriptions and has taken them again (reconnect, failover). Publications
   * may have been missed on every listed channel; the node checks each one against history.
   */
  resubscribed?(channels: readonly string[]): void;
  /** Connectivity changed; `ready` matches `Bus.isReady()`. */
  readiness?(ready: boolean): void;
}

/**
 * The contract between nodes and the transport that joins them.
 *
 * - Offsets: each channel's publications get offsets 1, 2, 3, … with no gaps, in publish order,
 *   within one epoch. A publish is one atomic step: offset, history append and delivery.
 * - Epochs: a channel's epoch changes whenever its history and offsets are lost or reset; an epoch
 *   is created the first time a channel is published to or its history is read. A channel never
 *   published to holds no state once no node subscribes to it (the memory bus forgets it at once,
 *   Redis after the history TTL), so client-chosen names cost nothing after they are let go.
 * - Delivery: at most once, in offset order per channel. A bus may lose publications while it is
 *   disconnected; it then calls `resubscribed` so the node fills the hole from `history`, which is
 *   the source of truth. Nodes must also check offsets for holes and duplicates themselves.
 * - History: bounded per channel by the `HistoryPolicy` of its namespace (count and age).
 * - `subscribe` resolves once publications on the channel will be delivered to the handler;
 *   subscribing twice to one channel is one subscription (and one `unsubscribe` ends it).
 */
export interface Bus {
  readonly kind: 'memory' | 'redis';
  setHandler(handler: BusHandler): void;
  /**
   * `dataJson` is the JSON text of the publication's data (already validated by the caller).
   * With `fence`, the publish is refused with `FencedError` when the channel has already taken a
   * publication carrying a larger fencing number (lease.ts): a deposed leader's late writes.
   */
  publish(channel: string, dataJson: string, opts?: PublishOptions): Promise<StreamPosition>;
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  history(channel: string, query?: HistoryQuery): Promise<HistoryResult>;
  /**
   * The control channel: a small message (at most `MAX_CONTROL_MESSAGE_BYTES` of UTF-8) to every
   * node that listens, this one included (operator disconnects, presence reports). At most once
   * and unordered across publishers, like live publications, but with no history: a node that is
   * disconnected misses what is sent meanwhile, so what it carries must tolerate loss (presence
   * reports carry sequence numbers and are resent in full on request). Rejects with
   * `BusUnavailableError` when it cannot be sent now, `RangeError` when it is too large.
   */
  publishControl(message: string): Promise<void>;
  /**
   * Delivers every control message to `listener` from now on (several listeners may listen).
   * Resolves once the bus holds the control subscription; the returned function stops listening.
   */
  listenControl(listener: ControlListener): Promise<() => void>;
  /** Connected and holding its subscriptions. */
  isReady(): boolean;
  close(): Promise<void>;
}

/** Receives a control message (`Bus.listenControl`). */
export type ControlListener = (message: string) => void;

/** Control messages are small by contract: large state goes in several messages. */
export const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024;

/** Throws RangeError for a control message over the size limit. */
export function checkControlMessage(message: string): void {
  const size = Buffer.byteLength(message);
  if (size > MAX_CONTROL_MESSAGE_BYTES) throw new RangeError(`control message is ${size} bytes; the limit is ${MAX_CONTROL_MESSAGE_BYTES}`);
}

export interface PublishOptions {
  /** The publisher's fencing number (lease.ts); the channel remembers the largest it has taken. */
  fence?: number;
}

/**
 * A fenced publish refused because the channel took a newer fencing number: the publisher has
 * lost its lease to another holder and must stop writing. Not retried.
 */
export class FencedError extends Error {
  override readonly name = 'FencedError';
  constructor(readonly channel: string, readonly fence: number, readonly newer: number) {
    super(`publication on ${channel} with fencing number ${fence} refused: the channel has taken ${newer}`);
  }
}

/** Raised by a bus that cannot take a publish now (disconnected, outbox full). */
export class BusUnavailableError extends Error {
  override readonly name = 'BusUnavailableError';
}
