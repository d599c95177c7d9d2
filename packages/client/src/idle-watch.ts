import type { Clock } from './clock.js';

/**
 * Notices a connection that went silent without the OS noticing (a half-open TCP connection, a
 * suspended laptop). Browsers cannot see WebSocket ping frames, so silence is measured on the
 * messages that arrive: after `timeoutMs` an application `ping` is sent, after twice that the
 * connection is declared dead.
 */
export class IdleWatch {
  private timer: unknown;
  private lastReceived = 0;
  private pingSent = false;
  private timeoutMs = 0;
  private periodMs = 0;

  constructor(
    private readonly clock: Clock,
    private readonly ping: () => void,
    private readonly dead: () => void,
  ) {}

  start(timeoutMs: number): void {
    this.stop();
    this.timeoutMs = timeoutMs;
    this.received();
    if (timeoutMs <= 0) return;
    this.periodMs = Math.max(50, Math.floor(timeoutMs / 4));
    this.arm();
  }

  /** Anything arrived on the connection. */
  received(): void {
    this.lastReceived = this.clock.now();
    this.pingSent = false;
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.periodMs = 0;
    this.pingSent = false;
  }

  private arm(): void {
    this.timer = this.clock.setTimeout(() => this.check(), this.periodMs);
  }

  private check(): void {
    const silent = this.clock.now() - this.lastReceived;
    if (silent >= this.timeoutMs * 2) {
      this.stop();
      this.dead();
      return;
    }
    if (silent >= this.timeoutMs && !this.pingSent) {
      this.pingSent = true;
      this.ping();
    }
    if (this.periodMs > 0) this.arm(); // unless stopped meanwhile
  }
}
