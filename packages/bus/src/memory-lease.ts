import type { Lease, LeaseHolder } from './lease.js';

interface LeaseEntry {
  holder: LeaseHolder | undefined;
  expiresAt: number;
  records: Map<string, string>;
  recordsExpireAt: number;
  /** The last fencing number granted (never goes down, even after the records expire). */
  lastFence: number;
}

/** Leases within one process (lease.ts), on an injectable clock; what `MemoryBus` offers. */
export class MemoryLeases {
  private readonly leases = new Map<string, LeaseEntry>();

  constructor(private readonly now: () => number) {}

  private entry(name: string): LeaseEntry {
    let e = this.leases.get(name);
    if (e === undefined) {
      e = { holder: undefined, expiresAt: 0, records: new Map(), recordsExpireAt: 0, lastFence: 0 };
      this.leases.set(name, e);
    }
    const now = this.now();
    if (e.holder !== undefined && e.expiresAt <= now) e.holder = undefined;
    if (e.recordsExpireAt <= now) e.records.clear();
    return e;
  }

  private held(e: LeaseEntry, owner: string, fence: number): boolean {
    return e.holder !== undefined && e.holder.owner === owner && e.holder.fence === fence;
  }

  acquire(name: string, owner: string, ttlMs: number, recordsTtlMs: number, ifKnown = false): number | undefined {
    const e = this.entry(name);
    if (e.holder !== undefined || (ifKnown && e.lastFence === 0)) return undefined;
    const fence = Math.max(e.lastFence + 1, this.now());
    e.lastFence = fence;
    e.holder = { owner, fence };
    e.expiresAt = this.now() + ttlMs;
    e.recordsExpireAt = this.now() + recordsTtlMs;
    return fence;
  }

  renew(name: string, owner: string, fence: number, ttlMs: number, recordsTtlMs: number): boolean {
    const e = this.entry(name);
    // A lapsed lease is taken again by its last holder while no newer grant exists (lease.ts).
    if (e.holder === undefined && e.lastFence <= fence) e.holder = { owner, fence };
    if (!this.held(e, owner, fence)) return false;
    e.expiresAt = this.now() + ttlMs;
    e.recordsExpireAt = this.now() + recordsTtlMs;
    return true;
  }

  release(name: string, owner: string, fence: number): boolean {
    const e = this.entry(name);
    if (!this.held(e, owner, fence)) return false;
    e.holder = undefined;
    return true;
  }

  holder(name: string): LeaseHolder | undefined {
    const h = this.entry(name).holder;
    return h === undefined ? undefined : { ...h };
  }

  write(name: string, owner: string, fence: number, field: string, value: string | null): boolean {
    const e = this.entry(name);
    if (!this.held(e, owner, fence)) return false;
    if (value === null) e.records.delete(field);
    else e.records.set(field, value);
    return true;
  }

  records(name: string): Record<string, string> {
    return Object.fromEntries(this.entry(name).records);
  }
}

/** Leases within this process, for a bus that offers none: its one producer is always the leader. */
export function inProcessLease(now: () => number = Date.now): Lease {
  const l = new MemoryLeases(now);
  return {
    acquireLease: async (name, owner, ttlMs, recordsTtlMs, opts) => l.acquire(name, owner, ttlMs, recordsTtlMs, opts?.ifKnown),
    renewLease: async (name, owner, fence, ttlMs, recordsTtlMs) => l.renew(name, owner, fence, ttlMs, recordsTtlMs),
    releaseLease: async (name, owner, fence) => l.release(name, owner, fence),
    leaseHolder: async (name) => l.holder(name),
    writeLeaseRecord: async (name, owner, fence, field, value) => l.write(name, owner, fence, field, value),
    leaseRecords: async (name) => l.records(name),
  };
}
