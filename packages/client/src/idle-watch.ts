/**
 * Notices a connection that went silent without the OS noticing (a half-open TCP connection, a
 * suspended laptop). Browsers cannot see WebSocket ping frames, so silence is measured on the
 * messages that arrive: after `timeoutMs` an application `ping` is sent, after twice that the
 * connection is declared dead.
 */
export class IdleWatch {
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastReceived = 0;
  private pingSent = false;
  private timeoutMs = 0;

  constructor(
    private readonly ping: () => void,
    private readonly dead: () => void,
  ) {}

  start(timeoutMs: number): void {
    this.stop();
    this.timeoutMs = timeoutMs;
    this.received();
    if (timeoutMs <= 0) return;
    this.timer = setInterval(() => this.check(), Math.max(50, Math.floor(timeoutMs / 4)));
  }

  /** Anything arrived on the connection. */
  received(): void {
    this.lastReceived = Date.now();
    this.pingSent = false;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.pingSent = false;
  }

  private check(): void {
    const silent = Date.now() - this.lastReceived;
    if (silent >= this.timeoutMs * 2) {
      this.stop();
      this.dead();
    } else if (silent >= this.timeoutMs && !this.pingSent) {
      this.pingSent = true;
      this.ping();
    }
  }
}
