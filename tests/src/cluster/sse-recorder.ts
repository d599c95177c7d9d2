import { request } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { decodeSseId } from '@megaphone/protocol';
import type { StreamPosition } from '@megaphone/protocol';
import type { CloseRecord, StreamEvent } from './recording-client.js';

/**
 * An SSE reader that records what each channel's subscription sees, in the same shape as the
 * WebSocket `RecordingClient`, and resumes on any gateway with `Last-Event-ID` as EventSource does.
 */
export class SseRecorder {
  readonly events = new Map<string, StreamEvent[]>();
  readonly closes: CloseRecord[] = [];
  /** The last `id:` seen: every channel's position. */
  lastEventId = '';
  private node = '?';
  private req: ClientRequest | undefined;
  private res: IncomingMessage | undefined;
  /** The positions sent in `Last-Event-ID` on this connection: each channel's `since`. */
  private resumeFrom = new Map<string, StreamPosition>();
  private closedByUs = false;
  private resuming: Promise<void> | undefined;
  private urlIndex = 0;
  /** Gateways (http base URLs) to resume on when the stream ends unasked, as EventSource would. */
  autoResumeUrls: string[] = [];
  readonly errors: string[] = [];

  constructor(readonly name: string, readonly channels: readonly string[]) {}

  get connectedNode(): string {
    return this.node;
  }

  channelEvents(channel: string): StreamEvent[] {
    return this.events.get(channel) ?? [];
  }

  messages(channel: string): Extract<StreamEvent, { kind: 'message' }>[] {
    return this.channelEvents(channel).filter((e): e is Extract<StreamEvent, { kind: 'message' }> => e.kind === 'message');
  }

  private record(channel: string, e: StreamEvent): void {
    let list = this.events.get(channel);
    if (!list) this.events.set(channel, (list = []));
    list.push(e);
  }

  /** Opens `GET /sse?channel=…` on `baseUrl` (with `Last-Event-ID` when resuming); resolves on `welcome`. */
  async connect(baseUrl: string, opts: { resume?: boolean } = {}): Promise<void> {
    const url = new URL('/sse', baseUrl);
    for (const c of this.channels) url.searchParams.append('channel', c);
    this.closedByUs = false;
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    this.resumeFrom = new Map();
    if (opts.resume && this.lastEventId) {
      headers['last-event-id'] = this.lastEventId;
      this.resumeFrom = decodeSseId(this.lastEventId) ?? new Map();
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no welcome from ${url.href}`)), 5000);
      const req = request(url, { headers }, (res) => {
        this.res = res;
        if (res.statusCode !== 200) {
          clearTimeout(timer);
          reject(new Error(`${this.name}: GET ${url.href} → ${res.statusCode}`));
          res.resume();
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const ev = this.parse(block);
            if (ev?.event === 'welcome') {
              clearTimeout(timer);
              resolve();
            }
          }
        });
        res.on('close', () => this.onClose(req));
      });
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
        this.onClose(req);
      });
      req.end();
      this.req = req;
    });
  }

  private parse(block: string): { event: string } | undefined {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    if (data.length === 0) return undefined;
    if (id !== undefined && id !== '') this.lastEventId = id;
    const msg = JSON.parse(data.join('\n')) as Record<string, unknown>;
    const channel = String(msg.channel ?? '');
    const node = this.node;
    switch (msg.op) {
      case 'welcome':
        this.node = String(msg.node);
        break;
      case 'subscribed': {
        const since = this.resumeFrom.get(channel);
        this.record(channel, {
          kind: 'subscribed',
          channel,
          epoch: String(msg.epoch),
          offset: Number(msg.offset),
          ...(typeof msg.recovered === 'boolean' ? { recovered: msg.recovered } : {}),
          ...(since ? { since } : {}),
          node,
        });
        break;
      }
      case 'message':
        this.record(channel, { kind: 'message', channel, offset: Number(msg.offset), data: msg.data, node });
        break;
      case 'gap':
        this.record(channel, { kind: 'gap', channel, epoch: String(msg.epoch), offset: Number(msg.offset), reason: String(msg.reason), node });
        break;
      case 'unsubscribed':
        this.record(channel, { kind: 'unsubscribed', channel, reason: String(msg.reason), node });
        break;
    }
    return { event };
  }

  private readonly ended = new WeakSet<ClientRequest>();

  /** Both the response's 'close' and the request's 'error' may report one ended stream: count it once. */
  private onClose(req: ClientRequest): void {
    if (req !== this.req || this.ended.has(req)) return;
    this.ended.add(req);
    this.closes.push({ code: 0, reason: 'sse stream ended', node: this.node, at: Date.now() });
    if (!this.closedByUs && this.autoResumeUrls.length > 0 && !this.resuming) {
      this.resuming = this.autoResume().finally(() => (this.resuming = undefined));
    }
  }

  private async autoResume(): Promise<void> {
    for (let attempt = 0; attempt < 200 && !this.closedByUs; attempt++) {
      const url = this.autoResumeUrls[this.urlIndex++ % this.autoResumeUrls.length]!;
      try {
        await this.connect(url, { resume: true });
        return;
      } catch (err) {
        this.errors.push(`resume on ${url} failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  }

  /** Stops reading for `ms` (a slow consumer). */
  pauseFor(ms: number): void {
    const res = this.res;
    if (!res || res.destroyed) return;
    res.pause();
    setTimeout(() => res.resume(), ms).unref();
  }

  /** Drops the stream as a browser tab would (no goodbye). */
  disconnect(): void {
    this.closedByUs = true;
    this.req?.destroy();
    this.res?.destroy();
  }

  async close(): Promise<void> {
    this.autoResumeUrls = [];
    this.disconnect();
    await this.settled();
  }

  async settled(): Promise<void> {
    while (this.resuming) await this.resuming.catch(() => undefined);
  }
}
