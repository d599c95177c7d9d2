import type { Lease } from '@megaphone/bus';
import type { Logger } from '@megaphone/runtime';

export interface LeadershipOptions {
  lease: Lease;
  /** The lease's name (one per cluster of producers). */
  name: string;
  /** This replica's unique owner id (the node name plus a random part). */
  owner: string;
  /** PRODUCER_LEASE_MS. */
  ttlMs: number;
  /** How long the lease's records outlive the last renewal (a cluster down longer starts afresh). */
  recordsTtlMs: number;
  logger: Logger;
  /** This replica holds the lease now, with this fencing number; resolves once it leads. */
  elected(fence: number): Promise<void>;
  /** This replica no longer holds the lease (or may not by the time a standby could take it): stop at once. */
  deposed(reason: string): void;
}

/**
 * Holds the producers' leader lease (SPEC §12) or waits for it.
 *
 * - A standby tries to take the lease every `pollMs` (≤ 500 ms), so it takes over at most that
 *   long after the lease expired: within the lease plus a second. A standby that saw the lease held
 *   within the last lease asks for it `ifKnown` (lease.ts): after Redis lost its state, the holder
 *   (which may still run) renews first, and a standby takes over only if it has not within a lease.
 * - The leader renews every third of the lease. It counts its lease from the moment it sent the
 *   renewal (never from the reply), and steps down when `ttl - margin` passes without a successful
 *   renewal: its runs are killed while the lease still blocks every standby. The margin (a quarter
 *   of the lease, at least 1 s) covers killing the process groups and clock rate differences.
 * - `fenced()`: a publication carrying our fencing number was refused, so another replica leads.
 * - `stop()` (graceful shutdown, after the runs have ended) releases the lease at once.
 */
export class Leadership {
  private fence: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stepDownTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Bumped on every change, so a late reply from an earlier term is ignored. */
  private term = 0;
  private readonly pollMs: number;
  private readonly renewMs: number;
  private readonly marginMs: number;
  /** When this replica last knew the lease to be held (by anyone, itself included). */
  private heldSeenAt: number | undefined;

  constructor(private readonly opts: LeadershipOptions) {
    this.pollMs = Math.min(500, Math.max(50, Math.floor(opts.ttlMs / 4)));
    this.renewMs = Math.max(50, Math.floor(opts.ttlMs / 3));
    this.marginMs = Math.min(Math.floor(opts.ttlMs / 2), Math.max(1000, Math.floor(opts.ttlMs / 4)));
  }

  /** The fencing number while leading. */
  get currentFence(): number | undefined {
    return this.fence;
  }

  get isLeader(): boolean {
    return this.fence !== undefined;
  }

  /** Tries for the lease once now (when won, resolves after `elected`), then keeps trying. */
  start(): Promise<void> {
    return this.tryAcquire();
  }

  private schedule(fn: () => Promise<void>, ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void fn(), ms);
  }

  private async tryAcquire(): Promise<void> {
    const term = this.term;
    let fence: number | undefined;
    const sentAt = Date.now();
    // Seen held within a lease: a store without the lease's last fencing number lost its state
    // (Redis restarted empty) and the holder may still run; it gets a lease's time to renew.
    const ifKnown = this.heldSeenAt !== undefined && sentAt - this.heldSeenAt < this.opts.ttlMs;
    try {
      fence = await this.opts.lease.acquireLease(this.opts.name, this.opts.owner, this.opts.ttlMs, this.opts.recordsTtlMs, { ifKnown });
      if (fence === undefined && (await this.opts.lease.leaseHolder(this.opts.name)) !== undefined) this.heldSeenAt = Date.now();
    } catch (err) {
      this.opts.logger.debug({ err: (err as Error).message }, 'could not try for the leader lease');
    }
    if (this.stopped || term !== this.term) {
      if (fence !== undefined) void this.opts.lease.releaseLease(this.opts.name, this.opts.owner, fence).catch(() => undefined);
      return;
    }
    if (fence === undefined) {
      this.schedule(() => this.tryAcquire(), this.pollMs);
      return;
    }
    this.term++;
    this.fence = fence;
    this.heldSeenAt = sentAt;
    this.armStepDown(sentAt);
    this.schedule(() => this.renew(), this.renewMs);
    this.opts.logger.info({ fence }, 'leader: this producer runs the jobs now');
    try {
      await this.opts.elected(fence);
    } catch (err) {
      if (this.fence === fence) this.depose(`could not take over: ${(err as Error).message}`);
    }
  }

  private armStepDown(sentAt: number): void {
    clearTimeout(this.stepDownTimer);
    const at = sentAt + this.opts.ttlMs - this.marginMs;
    this.stepDownTimer = setTimeout(() => this.depose('the lease could not be renewed in time'), Math.max(0, at - Date.now()));
  }

  private async renew(): Promise<void> {
    const fence = this.fence;
    if (fence === undefined) return;
    const term = this.term;
    const sentAt = Date.now();
    let ok: boolean | undefined;
    try {
      ok = await this.opts.lease.renewLease(this.opts.name, this.opts.owner, fence, this.opts.ttlMs, this.opts.recordsTtlMs);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'could not renew the leader lease; retrying');
    }
    if (this.stopped || term !== this.term) return;
    if (ok === false) {
      this.depose('another producer holds the lease');
      return;
    }
    if (ok === true) {
      this.heldSeenAt = sentAt;
      this.armStepDown(sentAt);
    }
    this.schedule(() => this.renew(), ok === true ? this.renewMs : Math.floor(this.renewMs / 2));
  }

  /** A fenced publication was refused: someone with a newer fencing number leads. */
  fenced(fence: number): void {
    if (this.fence === fence) this.depose('a publication was fenced off: another producer leads');
  }

  private depose(reason: string): void {
    if (this.fence === undefined) return;
    this.opts.logger.warn({ fence: this.fence, reason }, 'no longer the leader: stopping the runs');
    this.fence = undefined;
    this.term++;
    this.heldSeenAt = Date.now();
    clearTimeout(this.stepDownTimer);
    this.opts.deposed(reason);
    this.schedule(() => this.tryAcquire(), this.pollMs);
  }

  /** Stops trying; a leader releases the lease (call after its runs have ended). */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopped = true;
    this.term++;
    clearTimeout(this.timer);
    clearTimeout(this.stepDownTimer);
    const fence = this.fence;
    this.fence = undefined;
    if (fence === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const released = this.opts.lease.releaseLease(this.opts.name, this.opts.owner, fence).then(
      (ok) => this.opts.logger.info({ fence, released: ok }, 'leader lease released'),
      (err: Error) => this.opts.logger.warn({ err: err.message }, 'could not release the leader lease; it expires on its own'),
    );
    await Promise.race([released, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }
}
