import type { PublicationMessage, StreamPosition, SubscribeCommand, SubscribedMessage, GapMessage } from '@megaphone/protocol';
import type { Anomaly, GapEvent, MessageMeta, SubscribedInfo } from './events.js';

export interface SubscribeOptions {
  /** Start with the last ≤ N publications. */
  history?: number;
  /** Start after this position (e.g. one saved from a previous session). Wins over `history`. */
  since?: StreamPosition;
  /**
   * A state-like channel (e.g. `uptime`) that the gateway conflates: a lagging client is handed
   * only the latest publication, so offsets may jump. Jumps are then expected, not reported.
   */
  conflated?: boolean;
  onMessage(data: unknown, meta: MessageMeta): void;
  /** The stream has a hole or restarted; see `GapEvent`. Without it, gaps still reach `client.on('gap')`. */
  onGap?(gap: GapEvent): void;
  onSubscribed?(info: SubscribedInfo): void;
  /** The subscribe command was refused (`forbidden`, `too_many_subscriptions`, …). */
  onError?(error: { code: string; message: string }): void;
  /** The server ended the subscription (e.g. `shutdown`); it is renewed on the next connection. */
  onUnsubscribed?(reason: string): void;
}

export interface SubscriptionReporter {
  gap(gap: GapEvent): void;
  anomaly(anomaly: Anomaly): void;
}

/**
 * One channel's client-side state: the last position the application saw, and the checks that the
 * stream is contiguous. Positions come from `subscribed`, `message` and `gap`, so that a resume
 * after a reconnect asks for exactly what the application has not seen.
 */
export class Subscription {
  /** The id of the subscribe command in flight or answered; replies are matched against it. */
  commandId = 0;
  /** `subscribed` arrived for `commandId`: messages for this channel belong to this subscription. */
  live = false;
  private position: StreamPosition | undefined;
  /**
   * After a `history` subscribe the replay may begin anywhere up to `liveFrom` (history may hold
   * fewer than asked for), so the first message is not checked against `position`.
   */
  private loose = false;
  private liveFrom = 0;
  private subscribedOnce = false;
  private sentSince = false;

  constructor(
    readonly channel: string,
    readonly options: SubscribeOptions,
    private readonly reporter: SubscriptionReporter,
  ) {
    if (options.since !== undefined) this.position = { ...options.since };
  }

  /** The last position the application has seen (or was told to skip to). */
  get lastPosition(): StreamPosition | undefined {
    return this.position === undefined ? undefined : { ...this.position };
  }

  /** The command for (re)subscribing: resume with `since` once a position is known. */
  command(id: number): SubscribeCommand {
    this.commandId = id;
    this.live = false;
    const cmd: SubscribeCommand = { op: 'subscribe', id, channel: this.channel };
    if (this.position !== undefined && !this.loose) {
      cmd.since = { ...this.position };
      this.sentSince = true;
    } else {
      this.sentSince = false;
      if (this.options.history !== undefined && this.options.history > 0) cmd.history = this.options.history;
    }
    return cmd;
  }

  onSubscribed(msg: SubscribedMessage): void {
    this.live = true;
    const resubscribed = this.subscribedOnce;
    this.subscribedOnce = true;
    let recovered = false;
    if (this.sentSince && this.position !== undefined) {
      recovered = msg.recovered !== false && msg.epoch === this.position.epoch && msg.offset >= this.position.offset;
      if (!recovered) {
        const previous = this.position;
        this.position = { epoch: msg.epoch, offset: msg.offset };
        this.loose = false;
        this.emitGap({
          channel: this.channel,
          kind: 'reset',
          from: previous,
          epoch: msg.epoch,
          to: msg.offset,
          reason: msg.epoch === previous.epoch ? 'history_expired' : 'epoch_changed',
        });
      }
    } else {
      const history = this.options.history ?? 0;
      this.position = { epoch: msg.epoch, offset: Math.max(0, msg.offset - history) };
      this.loose = history > 0;
      this.liveFrom = msg.offset + 1;
    }
    this.options.onSubscribed?.({ channel: this.channel, epoch: msg.epoch, offset: msg.offset, recovered, resubscribed });
  }

  onMessage(msg: PublicationMessage): void {
    if (!this.live || this.position === undefined) {
      // Left over from a previous subscription to this channel (unsubscribe/subscribe race).
      return;
    }
    const last = this.position.offset;
    if (msg.offset <= last) {
      this.reporter.anomaly({
        channel: this.channel,
        kind: 'duplicate',
        offset: msg.offset,
        expected: last + 1,
        message: `offset ${msg.offset} after ${last}: dropped`,
      });
      return;
    }
    const limit = this.loose ? this.liveFrom : last + 1;
    if (msg.offset > limit && this.options.conflated !== true) {
      const gap: GapEvent = {
        channel: this.channel,
        kind: 'skipped',
        from: { ...this.position },
        epoch: this.position.epoch,
        to: msg.offset - 1,
        reason: 'non_consecutive_offset',
      };
      this.reporter.anomaly({
        channel: this.channel,
        kind: 'skipped',
        offset: msg.offset,
        expected: limit,
        message: `offset ${msg.offset} where ${limit} was expected`,
      });
      this.emitGap(gap);
    }
    this.loose = false;
    this.position = { epoch: this.position.epoch, offset: msg.offset };
    this.options.onMessage(msg.data, { channel: this.channel, epoch: this.position.epoch, offset: msg.offset, ts: msg.ts });
  }

  onGapMessage(msg: GapMessage): void {
    if (!this.live) return;
    const previous = this.position;
    if (previous !== undefined && previous.epoch === msg.epoch && msg.offset <= previous.offset) {
      return; // nothing the application has not already seen
    }
    this.position = { epoch: msg.epoch, offset: msg.offset };
    this.loose = false;
    this.emitGap({
      channel: this.channel,
      kind: 'lost',
      ...(previous === undefined ? {} : { from: previous }),
      epoch: msg.epoch,
      to: msg.offset,
      reason: msg.reason,
    });
  }

  private emitGap(gap: GapEvent): void {
    this.options.onGap?.(gap);
    this.reporter.gap(gap);
  }
}
