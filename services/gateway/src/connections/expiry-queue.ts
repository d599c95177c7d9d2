/**
 * Deadlines of every connection's token in one min-heap with one timer armed for the earliest
 * (SPEC §10: a token that expires without refresh closes its connection). A timer per connection
 * would cost a timer object each and wake the event loop once per client; here a refresh or a
 * close is O(log n) and the loop wakes only when some deadline is due.
 */
export interface ExpiryEntry<T> {
  readonly item: T;
  at: number;
  /** Position in the heap; -1 once removed. */
  index: number;
}

export interface ExpiryClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: ExpiryClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Node timers cannot wait longer than this; a later deadline is re-armed when it is reached. */
const MAX_DELAY_MS = 2_147_483_647;

export class ExpiryQueue<T> {
  private readonly heap: ExpiryEntry<T>[] = [];
  private timer: unknown;
  private armedFor = Infinity;

  constructor(
    private readonly onExpired: (item: T) => void,
    private readonly clock: ExpiryClock = realClock,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `item` at `at` (ms since the Unix epoch); returns the entry to move or remove it by. */
  add(item: T, at: number): ExpiryEntry<T> {
    const entry: ExpiryEntry<T> = { item, at, index: this.heap.length };
    this.heap.push(entry);
    this.up(entry.index);
    this.arm();
    return entry;
  }

  /** Moves an entry to a new deadline (a refreshed token). */
  move(entry: ExpiryEntry<T>, at: number): void {
    if (entry.index < 0) return;
    const earlier = at < entry.at;
    entry.at = at;
    if (earlier) this.up(entry.index);
    else this.down(entry.index);
    this.arm();
  }

  remove(entry: ExpiryEntry<T>): void {
    const i = entry.index;
    if (i < 0) return;
    entry.index = -1;
    const last = this.heap.pop()!;
    if (last !== entry) {
      this.heap[i] = last;
      last.index = i;
      this.up(i);
      this.down(last.index);
    }
    this.arm();
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const entry = this.heap[0]!;
      this.remove(entry);
      this.onExpired(entry.item);
    }
    this.arm();
  };

  private arm(): void {
    const head = this.heap[0];
    const at = head === undefined ? Infinity : head.at;
    if (at === this.armedFor) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = at;
    if (head === undefined) return;
    this.timer = this.clock.setTimeout(this.fire, Math.min(MAX_DELAY_MS, Math.max(0, at - this.clock.now())));
  }

  private up(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= e.at) break;
      h[i] = h[p]!;
      h[i]!.index = i;
      i = p;
    }
    h[i] = e;
    e.index = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.at < h[l]!.at ? r : l;
      if (h[c]!.at >= e.at) break;
      h[i] = h[c]!;
      h[i]!.index = i;
      i = c;
    }
    h[i] = e;
    e.index = i;
  }
}
