import { randomBytes } from 'node:crypto';
import type { Bus, Publication } from '@megaphone/bus';
import type { Logger } from '@megaphone/runtime';
import { HttpError } from '../http/http-util.js';
import { errorReply, parseRunsRequest, type ApiReply, type RunsRequest } from '../http/runs-api.js';

/** Requests to the leader; every replica listens, only the leader answers. */
export const CONTROL_CHANNEL = 'producer:control';

export interface ControlLinkOptions {
  /** A bus of the producers' own (its own key prefix: no client can publish or subscribe there). */
  bus: Bus;
  /** Answers a request while this replica leads; undefined otherwise (someone else answers). */
  answer(req: RunsRequest): ApiReply | undefined;
  /** How long a standby waits for the leader's answer before replying 503. */
  timeoutMs: number;
  /** Forwarded requests waiting for an answer at once; beyond it a standby answers 503 at once. */
  maxPending: number;
  logger: Logger;
}

interface Pending {
  resolve(reply: ApiReply): void;
  timer: NodeJS.Timeout;
}

/**
 * Request/reply between producers over bus channels (SPEC §12): a standby publishes the request on
 * `producer:control` and waits on its own reply channel; the leader answers exactly as it answers
 * its own API. Delivery is at most once (bus pub/sub): a lost request or answer is a 503 with
 * `retry-after` after `timeoutMs`, never a hang (the leader may still have acted on it: a retried
 * start then answers 409).
 */
export class ControlLink {
  private readonly replica = randomBytes(8).toString('hex');
  private readonly replyChannel = `producer:reply.${this.replica}`;
  private readonly pending = new Map<string, Pending>();
  private seq = 0;

  constructor(private readonly opts: ControlLinkOptions) {}

  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  /** Subscribes both channels; while the bus cannot, keeps trying every second in the background. */
  async start(): Promise<void> {
    this.opts.bus.setHandler({ publication: (pub) => this.received(pub) });
    try {
      await this.opts.bus.subscribe(CONTROL_CHANNEL);
      await this.opts.bus.subscribe(this.replyChannel);
    } catch (err) {
      if (this.closed) return;
      this.opts.logger.warn({ err: (err as Error).message }, 'control channel not subscribed yet; retrying');
      this.retry = setTimeout(() => void this.start(), 1000);
    }
  }

  /** Asks the leader; resolves with its answer, or with a 503 when none comes in time. */
  async forward(req: RunsRequest): Promise<ApiReply> {
    const retry = { 'retry-after': '1' };
    if (this.pending.size >= this.opts.maxPending) {
      return errorReply(new HttpError('unavailable', 'too many requests are waiting for the leader; retry', retry));
    }
    const id = `${this.replica}.${++this.seq}`;
    const answer = new Promise<ApiReply>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(errorReply(new HttpError('unavailable', `no leader answered within ${this.opts.timeoutMs} ms (a failover may be under way); retry`, retry)));
      }, this.opts.timeoutMs);
      this.pending.set(id, { resolve, timer });
    });
    const message = { id, replyTo: this.replyChannel, req };
    try {
      await this.opts.bus.publish(CONTROL_CHANNEL, JSON.stringify(message));
    } catch {
      this.settle(id, errorReply(new HttpError('unavailable', 'the bus is unavailable, so the leader cannot be asked; retry', retry)));
    }
    return answer;
  }

  private settle(id: string, reply: ApiReply): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(reply);
  }

  private received(pub: Publication): void {
    let data: unknown;
    try {
      data = (JSON.parse(pub.frame.toString('utf8')) as { data: unknown }).data;
    } catch {
      return;
    }
    if (typeof data !== 'object' || data === null) return;
    const msg = data as Record<string, unknown>;
    if (pub.channel === this.replyChannel) {
      const reply = msg.reply as ApiReply | undefined;
      if (typeof msg.id === 'string' && typeof reply?.status === 'number') this.settle(msg.id, reply);
      return;
    }
    if (pub.channel !== CONTROL_CHANNEL) return;
    const req = parseRunsRequest(msg.req);
    const replyTo = msg.replyTo;
    if (req === undefined || typeof msg.id !== 'string' || typeof replyTo !== 'string' || !replyTo.startsWith('producer:reply.')) return;
    const reply = this.opts.answer(req);
    if (reply === undefined) return;
    this.opts.bus.publish(replyTo, JSON.stringify({ id: msg.id, reply })).catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'could not answer a forwarded request'));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    for (const [id] of this.pending) this.settle(id, errorReply(new HttpError('unavailable', 'the producer is shutting down', { 'retry-after': '1' })));
  }
}
