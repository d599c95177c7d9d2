import { WebSocket } from 'ws';
import { decodeServerFrame } from '@megaphone/protocol';
import { waitFor } from '../cluster/wait.js';
import type { Stack } from './stack.js';

/**
 * The healthy client that watches throughout an abuse run: subscribed to one channel that a
 * publisher feeds at a steady rate, it records every offset it gets and each one's latency (publish
 * time to arrival). `check()` says whether it saw consecutive offsets since the last check.
 */
export class Watcher {
  readonly offsets: number[] = [];
  readonly latenciesMs: number[] = [];
  private checked = 0;
  private timer: NodeJS.Timeout | undefined;
  private published = 0;
  private closed = false;

  private constructor(
    private readonly stack: Stack,
    private readonly ws: WebSocket,
    readonly channel: string,
  ) {}

  static async start(stack: Stack, channel = 'watch', everyMs = 50): Promise<Watcher> {
    const ws = new WebSocket(stack.ws);
    const w = new Watcher(stack, ws, channel);
    ws.on('message', (data) => {
      const now = Date.now();
      for (const m of decodeServerFrame(String(data))) {
        if (m.op === 'message' && m.channel === channel) {
          w.offsets.push(m.offset);
          if (typeof m.ts === 'number') w.latenciesMs.push(now - m.ts);
        }
      }
    });
    ws.on('close', () => (w.closed = true));
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ op: 'subscribe', id: 1, channel }));
    w.timer = setInterval(() => {
      void stack.publish({ channel, data: { n: ++w.published } }).catch(() => undefined);
    }, everyMs);
    await waitFor('the watcher’s first publication', () => w.offsets.length > 0, { timeoutMs: 5000 });
    return w;
  }

  /**
   * Waits until the watcher has seen `fresh` more publications, then checks everything it got since
   * the last check: consecutive offsets and the connection still open. Returns what it saw.
   */
  async check(fresh = 5): Promise<{ got: number; consecutive: boolean; open: boolean; p99Ms: number }> {
    const from = this.checked;
    await waitFor('the watcher to get fresh publications', () => this.closed || this.offsets.length >= from + fresh, { timeoutMs: 10_000 }).catch(() => undefined);
    const seen = this.offsets.slice(Math.max(0, from - 1));
    this.checked = this.offsets.length;
    let consecutive = true;
    for (let i = 1; i < seen.length; i++) if (seen[i] !== seen[i - 1]! + 1) consecutive = false;
    return { got: this.offsets.length - from, consecutive, open: !this.closed, p99Ms: percentile(this.latenciesMs.slice(from), 0.99) };
  }

  p99Ms(): number {
    return percentile(this.latenciesMs, 0.99);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.ws.terminate();
  }
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
