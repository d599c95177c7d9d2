/**
 * A leader lease with a fencing number: an optional capability of a bus (a tiny interface of its
 * own, next to `Bus`), used by the producer so that exactly one replica runs the jobs.
 *
 * - `acquireLease` takes a free lease for `ttlMs` and returns its fencing number; every grant of
 *   the lease gets a larger number than any earlier grant, so a write carrying an older number can
 *   be told apart from the current holder's (`PublishOptions.fence`: the publish refuses it).
 * - `renewLease` / `releaseLease` act only for the holder named by owner and fence (checked
 *   atomically), so a deposed holder can never extend or drop someone else's lease.
 * - Records: a small key/value map kept with the lease, written only by the current holder and
 *   readable by anyone (the producer keeps its runs and the uptime start there, so the next holder
 *   can announce what the previous one left behind). The records outlive the lease by design:
 *   each grant and renewal keeps them for `recordsTtlMs`.
 *
 * Redis: SET NX PX plus Lua scripts that check ownership; all keys of a lease share one hash tag
 * (one Cluster slot). In-process (`MemoryBus`): the same semantics within one process, where a
 * single producer is always the leader.
 */
export interface Lease {
  /**
   * The fencing number of a new grant, or undefined while someone holds the lease. `ifKnown`:
   * grant only if the store remembers granting this lease before (its last fencing number). A
   * standby that recently saw a holder passes it, so a Redis that lost its state (restarted empty)
   * does not hand the lease to a standby while the previous holder, which may still run, has had no
   * chance to renew; the previous holder renews a lapsed lease (see `renewLease`).
   */
  acquireLease(name: string, owner: string, ttlMs: number, recordsTtlMs: number, opts?: { ifKnown?: boolean }): Promise<number | undefined>;
  /**
   * Extends the lease; false when `owner`/`fence` no longer hold it. A lease that is gone (it
   * lapsed, or Redis restarted empty) is taken again while no newer grant exists.
   */
  renewLease(name: string, owner: string, fence: number, ttlMs: number, recordsTtlMs: number): Promise<boolean>;
  /** Gives the lease up at once (graceful stop); false when it was no longer ours. */
  releaseLease(name: string, owner: string, fence: number): Promise<boolean>;
  /** Who holds the lease now. */
  leaseHolder(name: string): Promise<LeaseHolder | undefined>;
  /** Sets (or with `null` deletes) one record; false (nothing written) unless `owner`/`fence` hold the lease. */
  writeLeaseRecord(name: string, owner: string, fence: number, field: string, value: string | null): Promise<boolean>;
  leaseRecords(name: string): Promise<Record<string, string>>;
}

export interface LeaseHolder {
  owner: string;
  fence: number;
}

/** True when the bus offers leases (both bundled buses do). */
export function hasLease<T extends object>(bus: T): bus is T & Lease {
  return typeof (bus as Partial<Lease>).acquireLease === 'function';
}
