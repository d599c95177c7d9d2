import WebSocket from 'ws';
import type { StreamPosition } from '@megaphone/protocol';
import { sleep } from './wait.js';

export type StreamEvent =
  | { kind: 'subscribed'; channel: string; epoch: string; offset: number; recovered?: boolean; since?: StreamPosition; node: string }
  | { kind: 'message'; channel: string; offset: number; data: unknown; node: string }
  | { kind: 'gap'; channel: string; epoch: string; offset: number; reason: string; node: string }
  | { kind: 'unsubscribed'; channel: string; reason?: string; node: string };

export interface CloseRecord {
  code: number;
  reason: string;
  node: string;
  at: number;
}

/** Error codes whose message says "try again": a real client retries them. */
const RETRYABLE = new Set(['internal', 'history_unavailable']);

/** The server answered a command with `error`. */
export class CommandError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

interface Pending {
  /** Runs synchronously while the reply's frame is parsed. */
  onReply?: (msg: Record<string, unknown>) => void;
  resolve: (msg: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

/**
 * A WebSocket client that records everything a subscription sees (per channel, in arrival order)
 * and can resume on any gateway with `since`, by hand or automatically when its connection dies.
 */
export class RecordingClient {
  readonly events = new Map<string, StreamEvent[]>();
  readonly closes: CloseRecord[] = [];
  readonly errors: string[] = [];
  /** `internal` / `history_unavailable` errors answered to a subscribe and retried ("try again"). */
  readonly retriedSubscribes: string[] = [];
  /** Where each channel stands: the position to resume from. */
  private readonly positions = new Map<string, StreamPosition>();
  private ws: WebSocket | undefined;
  private node = '?';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedByUs = false;
  private resuming: Promise<void> | undefined;
  private urlIndex = 0;
  /** Gateways to resume on when the connection dies unasked; empty = stay closed. */
  autoResumeUrls: string[] = [];
  url = '';

  constructor(readonly name: string) {}

  get connectedNode(): string {
    return this.node;
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  channelEvents(channel: string): StreamEvent[] {
    return this.events.get(channel) ?? [];
  }

  position(channel: string): StreamPosition | undefined {
    return this.positions.get(channel);
  }

  messages(channel: string): Extract<StreamEvent, { kind: 'message' }>[] {
    return this.channelEvents(channel).filter((e): e is Extract<StreamEvent, { kind: 'message' }> => e.kind === 'message');
  }

  private record(channel: string, e: StreamEvent): void {
    let list = this.events.get(channel);
    if (!list) this.events.set(channel, (list = []));
    list.push(e);
  }

  async connect(url: string, timeoutMs = 5000): Promise<void> {
    this.url = url;
    this.closedByUs = false;
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no welcome from ${url} within ${timeoutMs} ms`)), timeoutMs);
      ws.on('message', (raw: Buffer) => {
        for (const line of raw.toString('utf8').split('\n')) {
          if (line.length === 0) continue;
          const msg = JSON.parse(line) as Record<string, unknown>;
          if (msg.op === 'welcome') {
            this.node = String(msg.node);
            clearTimeout(timer);
            resolve();
          } else this.onMessage(msg);
        }
      });
      ws.on('error', (err) => {
        this.errors.push(`${url}: ${err.message}`);
        clearTimeout(timer);
        reject(err);
      });
      ws.on('close', (code, reason) => {
        clearTimeout(timer);
        reject(new Error(`${this.name}: closed ${code} before welcome`));
        this.onClose(ws, code, reason.toString('utf8'));
      });
    });
  }

  private onMessage(msg: Record<string, unknown>): void {
    const channel = String(msg.channel ?? '');
    const node = this.node;
    switch (msg.op) {
      case 'message': {
        const offset = Number(msg.offset);
        this.record(channel, { kind: 'message', channel, offset, data: msg.data, node });
        const p = this.positions.get(channel);
        if (p) this.positions.set(channel, { epoch: p.epoch, offset });
        return;
      }
      case 'gap': {
        const e = { kind: 'gap' as const, channel, epoch: String(msg.epoch), offset: Number(msg.offset), reason: String(msg.reason), node };
        this.record(channel, e);
        this.positions.set(channel, { epoch: e.epoch, offset: e.offset });
        return;
      }
      case 'unsubscribed':
        if (msg.id === undefined) this.record(channel, { kind: 'unsubscribed', channel, reason: String(msg.reason), node });
        this.settle(msg);
        return;
      case 'subscribed':
      case 'error':
      case 'pong':
        this.settle(msg);
        return;
      default:
        this.errors.push(`unexpected message ${JSON.stringify(msg)}`);
    }
  }

  private settle(msg: Record<string, unknown>): void {
    const id = typeof msg.id === 'number' ? msg.id : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p) {
      if (msg.op === 'error') this.errors.push(`error without a pending command: ${JSON.stringify(msg)}`);
      return;
    }
    this.pending.delete(id!);
    p.onReply?.(msg);
    if (msg.op === 'error') p.reject(new CommandError(`${this.name}: ${JSON.stringify(msg)}`, String(msg.code)));
    else p.resolve(msg);
  }

  private send(cmd: Record<string, unknown>, onReply?: (msg: Record<string, unknown>) => void, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error(`${this.name}: not connected`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no reply to ${JSON.stringify(cmd)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        ...(onReply ? { onReply } : {}),
        resolve: (m) => (clearTimeout(timer), resolve(m)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      ws.send(JSON.stringify({ ...cmd, id }));
    });
  }

  /**
   * Subscribes (fresh, or from `since`). The reply is recorded synchronously while its frame is
   * parsed, so messages that follow it in the same frame are recorded after it. An `internal`
   * error ("try again") is retried a few times, as a real client would; it is counted.
   */
  async subscribe(channel: string, opts: { since?: StreamPosition; history?: number } = {}): Promise<Extract<StreamEvent, { kind: 'subscribed' }>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.subscribeOnce(channel, opts);
      } catch (err) {
        if (!(err instanceof CommandError) || !RETRYABLE.has(err.code) || attempt >= 5) throw err;
        this.retriedSubscribes.push(err.message);
        await sleep(200 * attempt);
      }
    }
  }

  private async subscribeOnce(channel: string, opts: { since?: StreamPosition; history?: number }): Promise<Extract<StreamEvent, { kind: 'subscribed' }>> {
    const node = this.node;
    let recorded: Extract<StreamEvent, { kind: 'subscribed' }> | undefined;
    const onReply = (m: Record<string, unknown>) => {
      if (m.op !== 'subscribed') return;
      recorded = {
        kind: 'subscribed',
        channel,
        epoch: String(m.epoch),
        offset: Number(m.offset),
        ...(typeof m.recovered === 'boolean' ? { recovered: m.recovered } : {}),
        ...(opts.since ? { since: opts.since } : {}),
        node,
      };
      this.record(channel, recorded);
      if (opts.since && m.recovered === true) this.positions.set(channel, opts.since);
      else this.positions.set(channel, { epoch: recorded.epoch, offset: Math.max(0, recorded.offset - (opts.history ?? 0)) });
    };
    await this.send({ op: 'subscribe', channel, ...(opts.since ? { since: opts.since } : {}), ...(opts.history ? { history: opts.history } : {}) }, onReply);
    if (!recorded) throw new Error(`${this.name}: no subscribed reply for ${channel}`);
    return recorded;
  }

  /** Stops reading for `ms` (a slow consumer: the gateway's queue for it grows, then catches up). */
  pauseFor(ms: number): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.pause();
    setTimeout(() => ws.resume(), ms).unref();
  }

  /** Closes this connection and continues every channel on `url` from where it stood. */
  async resumeOn(url: string): Promise<void> {
    await this.closeSocket();
    await this.connect(url);
    for (const [channel, pos] of this.positions) await this.subscribe(channel, { since: pos });
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.closes.push({ code, reason, node: this.node, at: Date.now() });
    for (const p of this.pending.values()) p.reject(new Error(`${this.name}: connection closed ${code}`));
    this.pending.clear();
    if (!this.closedByUs && this.autoResumeUrls.length > 0 && !this.resuming) {
      this.resuming = this.autoResume().finally(() => (this.resuming = undefined));
    }
  }

  /** Reconnects to the next gateway that answers and resumes every channel with `since`. */
  private async autoResume(): Promise<void> {
    for (let attempt = 0; attempt < 200 && !this.closedByUs; attempt++) {
      const urls = this.autoResumeUrls;
      const url = urls[this.urlIndex++ % urls.length]!;
      try {
        await this.connect(url, 2000);
        for (const [channel, pos] of this.positions) await this.subscribe(channel, { since: pos });
        return;
      } catch (err) {
        this.errors.push(`resume on ${url} failed: ${(err as Error).message}`);
        await this.closeSocket(false);
        await sleep(100 + Math.random() * 200);
      }
    }
  }

  /** Resolves once an automatic resume in progress (if any) has finished. */
  async settled(): Promise<void> {
    while (this.resuming) await this.resuming;
  }

  private async closeSocket(byUs = true): Promise<void> {
    const ws = this.ws;
    if (!ws) return;
    this.closedByUs = byUs;
    if (ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      const timer = setTimeout(() => ws.terminate(), 1000);
      timer.unref();
      ws.close(1000);
    });
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    this.autoResumeUrls = [];
    await this.settled().catch(() => undefined);
    await this.closeSocket();
  }
}
