import { request, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

/** A minimal EventSource over node:http: collects parsed events, lets a test wait for them. */
export class SseStream {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  lastEventId = '';
  retry: number | undefined;
  ended = false;
  private buffer = '';
  private waiters: Array<() => void> = [];

  private constructor(
    readonly req: ClientRequest,
    readonly res: IncomingMessage,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf('\n\n')) >= 0) {
        const block = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 2);
        this.parse(block);
      }
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    res.on('end', end);
    res.on('close', end);
    res.on('error', end);
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => resolve(new SseStream(req, res)));
      req.on('error', reject);
      req.end();
    });
  }

  private parse(block: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    let any = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line);
        continue;
      }
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
      else if (field === 'retry') this.retry = Number(value);
      any = true;
    }
    if (id !== undefined) this.lastEventId = id;
    if (any && data.length > 0) this.events.push({ event, id, data: data.join('\n') });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Parsed JSON of `event: message` data for one channel. */
  publications(channel: string): Array<{ offset: number; data: unknown }> {
    return this.events.flatMap((e) => {
      if (e.event !== 'message') return [];
      const m = JSON.parse(e.data) as { op: string; channel: string; offset: number; data: unknown };
      return m.op === 'message' && m.channel === channel ? [{ offset: m.offset, data: m.data }] : [];
    });
  }

  until(done: () => boolean, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; events: ${JSON.stringify(this.events.slice(-3))}`)), timeoutMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else if (this.ended) {
          clearTimeout(timer);
          reject(new Error(`stream ended; events: ${JSON.stringify(this.events.slice(-3))}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    this.req.destroy();
  }
}
