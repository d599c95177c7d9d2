import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { decodeServerFrame } from '@megaphone/protocol';
import { waitFor } from '../cluster/wait.js';

/**
 * How far the watcher's p99 latency may rise above its baseline during and after a scenario: room
 * for a shared machine's scheduling noise and for the scenario's own clients, which run on the same
 * cores as the gateway. A gateway stalled by a flood is seconds behind.
 */
export const LATENCY_SLACK_MS = 750;

/** Where a watcher connects and how its publisher publishes: a `Stack`, or a gateway in this process. */
export interface WatchTarget {
  readonly ws: string;
  publish(body: { channel: string; data: unknown }): Promise<unknown>;
}

/** What the watcher saw over one window. */
export interface Health {
  got: number;
  consecutive: boolean;
  open: boolean;
  p99Ms: number;
}

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
    private readonly ws: WebSocket,
    readonly channel: string,
  ) {}

  static async start(target: WatchTarget, channel = 'watch', everyMs = 50): Promise<Watcher> {
    const ws = new WebSocket(target.ws);
    const w = new Watcher(ws, channel);
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
      void target.publish({ channel, data: { n: ++w.published } }).catch(() => undefined);
    }, everyMs);
    await waitFor('the watcher’s first publication', () => w.offsets.length > 0, { timeoutMs: 5000 });
    return w;
  }

  /**
   * Waits until the watcher has seen `fresh` more publications, then checks everything it got since
   * the last check: consecutive offsets and the connection still open. Returns what it saw.
   */
  async check(fresh = 5): Promise<Health> {
    const from = this.checked;
    await waitFor('the watcher to get fresh publications', () => this.closed || this.offsets.length >= from + fresh, { timeoutMs: 10_000 }).catch(() => undefined);
    const seen = this.offsets.slice(Math.max(0, from - 1));
    this.checked = this.offsets.length;
    let consecutive = true;
    for (let i = 1; i < seen.length; i++) if (seen[i] !== seen[i - 1]! + 1) consecutive = false;
    return { got: this.offsets.length - from, consecutive, open: !this.closed, p99Ms: percentile(this.latenciesMs.slice(from), 0.99) };
  }

  /**
   * The window a scenario is compared with: the next `fresh` publications only (what came before
   * is checked too, and a gap or close there is returned instead).
   */
  async baseline(fresh = 40): Promise<Health> {
    const earlier = await this.check(0);
    if (!earlier.open || !earlier.consecutive) return earlier;
    return this.check(fresh);
  }

  /**
   * Asserts that the watcher was unaffected since `baseline` was taken: still open, consecutive
   * offsets, fresh publications, and p99 latency within LATENCY_SLACK_MS of the baseline's. Returns
   * the figures, to print.
   */
  async assertUnaffected(baseline: Health, context = ''): Promise<string> {
    assert.ok(baseline.open && baseline.consecutive, `the watcher before the scenario: ${JSON.stringify(baseline)}`);
    // At least a second of publications after the scenario, besides those during it.
    const h = await this.check(20);
    const figures = `watcher p99 ${h.p99Ms} ms over ${h.got} publications (baseline ${baseline.p99Ms} ms; bound baseline + ${LATENCY_SLACK_MS}), no gap`;
    assert.ok(h.open && h.consecutive && h.got >= 5, `the watcher is unaffected: ${JSON.stringify(h)}\n${context}`);
    assert.ok(h.p99Ms <= baseline.p99Ms + LATENCY_SLACK_MS, `${figures.replace(', no gap', '')}\n${context}`);
    return figures;
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
