import type { Bus, HistoryQuery, HistoryResult } from '@megaphone/bus';

/** How long a client told "busy" is asked to wait before it retries. */
export const HISTORY_RETRY_AFTER_MS = 1000;
/** Smallest page a subscriber's read asks for, however little room its connection has. */
export const MIN_PAGE_BYTES = 64 * 1024;

/** The node runs as many history reads as it may and has as many waiting as it will take. */
export class HistoryBusyError extends Error {
  override readonly name = 'HistoryBusyError';
  readonly retryAfterMs = HISTORY_RETRY_AFTER_MS;
}

export interface HistoryReadsOptions {
  bus: Pick<Bus, 'history'>;
  /** Distinct reads run against the bus at once. */
  maxInFlight: number;
  /** Reads that may wait for a slot; a read that may not wait (a join) is refused beyond this. */
  maxWaiting: number;
}

interface Read {
  readonly channel: string;
  readonly query: HistoryQuery;
  readonly result: Promise<HistoryResult>;
  start(): void;
}

/**
 * Every history read of the node goes through here, so that what clients ask for cannot stall the
 * bus or flood it with bytes:
 *
 * - identical reads of one channel (same `since`/`limit`, same page size) that are waiting or in
 *   flight are one read: many joiners of one channel share it;
 * - at most `maxInFlight` distinct reads run against the bus at once, the rest wait in order;
 * - a read that may not wait (`mayWait: false`: a subscriber joining) is refused with
 *   `HistoryBusyError` once `maxWaiting` reads wait, and the client is told to retry; catch-ups
 *   and the node's own hole reads always wait (there are at most as many as subscriptions).
 *
 * Callers page by bytes (`maxBytes`, see `pageBytes`): the bus never reads more than one page.
 */
export class HistoryReads {
  private readonly bus: Pick<Bus, 'history'>;
  private readonly maxInFlight: number;
  private readonly maxWaiting: number;
  private readonly shared = new Map<string, Read>();
  private readonly waiting: (Read | undefined)[] = [];
  private waitHead = 0;
  private inFlight = 0;

  constructor(opts: HistoryReadsOptions) {
    if (!Number.isSafeInteger(opts.maxInFlight) || opts.maxInFlight <= 0) throw new RangeError(`maxInFlight must be a positive integer (got ${opts.maxInFlight})`);
    this.bus = opts.bus;
    this.maxInFlight = opts.maxInFlight;
    this.maxWaiting = opts.maxWaiting;
  }

  /** Reads running against the bus now, and reads waiting for a slot. */
  stats(): { inFlight: number; waiting: number } {
    return { inFlight: this.inFlight, waiting: this.waiting.length - this.waitHead };
  }

  read(channel: string, query: HistoryQuery, mayWait: boolean): Promise<HistoryResult> {
    const key = keyOf(channel, query);
    const same = this.shared.get(key);
    if (same !== undefined) return same.result;
    const slot = this.inFlight < this.maxInFlight;
    if (!slot && !mayWait && this.waiting.length - this.waitHead >= this.maxWaiting) return Promise.reject(new HistoryBusyError('history reads are busy on this node'));
    let start!: () => void;
    const result = new Promise<HistoryResult>((resolve, reject) => {
      start = () => {
        this.inFlight++;
        this.bus.history(channel, query).then(resolve, reject).finally(() => {
          if (this.shared.get(key) === read) this.shared.delete(key);
          this.inFlight--;
          this.next();
        });
      };
    });
    const read: Read = { channel, query, result, start };
    this.shared.set(key, read);
    if (slot) read.start();
    else this.waiting.push(read);
    return result;
  }

  private next(): void {
    while (this.inFlight < this.maxInFlight && this.waitHead < this.waiting.length) {
      const read = this.waiting[this.waitHead];
      this.waiting[this.waitHead++] = undefined;
      read?.start();
    }
    if (this.waitHead === this.waiting.length) {
      this.waiting.length = 0;
      this.waitHead = 0;
    } else if (this.waitHead > 1024 && this.waitHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitHead);
      this.waitHead = 0;
    }
  }
}

/**
 * The page a subscriber reads: what its connection has room for, rounded down to a power of two
 * (so that joiners with similar room share a read), between `MIN_PAGE_BYTES` and the cap.
 */
export function pageBytes(room: number, cap: number): number {
  if (room >= cap) return cap;
  const floor = room <= MIN_PAGE_BYTES ? MIN_PAGE_BYTES : 2 ** Math.floor(Math.log2(room));
  return Math.min(cap, floor);
}

function keyOf(channel: string, q: HistoryQuery): string {
  const since = q.since === undefined ? '' : `${q.since.epoch}:${q.since.offset}`;
  return `${channel}\n${since}\n${q.limit ?? ''}\n${q.maxBytes ?? ''}`;
}
