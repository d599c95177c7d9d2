/**
 * A clock whose time moves only when the test says so. It has the shape of the clocks Megaphone's
 * code takes for its timers (`now`, `setTimeout`, `clearTimeout`), so a test can ask what is
 * scheduled (`armed`, `nextDueIn`) and run it by advancing time, instead of sleeping and hoping
 * that something did or did not happen meanwhile.
 */
export class ManualClock {
  private t: number;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  /** Starts at `start` (default: the real time now, so absolute deadlines such as a token's `exp` make sense). */
  constructor(start = Date.now()) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** How many timers are armed. */
  get armed(): number {
    return this.timers.size;
  }

  /** How long until the earliest armed timer is due; undefined when none is. */
  get nextDueIn(): number | undefined {
    let at = Infinity;
    for (const timer of this.timers.values()) at = Math.min(at, timer.at);
    return at === Infinity ? undefined : at - this.t;
  }

  /**
   * Moves time forward by `ms`, running every timer that falls due on the way in deadline order
   * (those armed with the same deadline in the order they were armed), each with `now()` at its
   * deadline; timers armed by a callback run too if they fall due within the step.
   */
  advance(ms: number): void {
    const end = this.t + Math.max(0, ms);
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}
