import type { Cluster, Redis } from 'ioredis';
import type { Lease, LeaseHolder } from '../lease.js';
import { leaseKeys } from './keys.js';
import { LEASE_ACQUIRE_SCRIPT, LEASE_RECORD_SCRIPT, LEASE_RELEASE_SCRIPT, LEASE_RENEW_SCRIPT } from './lease-scripts.js';

interface LeaseCommands {
  mpLeaseAcquire(lease: string, fence: string, records: string, ...args: (string | number)[]): Promise<string | null>;
  mpLeaseRenew(lease: string, fence: string, records: string, ...args: (string | number)[]): Promise<number>;
  mpLeaseRelease(lease: string, ...args: (string | number)[]): Promise<number>;
  mpLeaseRecord(lease: string, records: string, ...args: (string | number)[]): Promise<number>;
}

/** Leases (lease.ts) on a Redis command connection: standalone, Sentinel's master, or Cluster. */
export class RedisLeases implements Lease {
  private readonly commands: LeaseCommands;
  /** The records' lifetime each lease last asked for, reused by record writes. */
  private readonly recordsTtl = new Map<string, number>();

  constructor(
    private readonly conn: Redis | Cluster,
    private readonly prefix: string,
    /** Throws `BusUnavailableError` while the connection cannot take commands. */
    private readonly ensureReady: () => void,
    private readonly asBusError: (err: unknown) => Error,
  ) {
    conn.defineCommand('mpLeaseAcquire', { numberOfKeys: 3, lua: LEASE_ACQUIRE_SCRIPT });
    conn.defineCommand('mpLeaseRenew', { numberOfKeys: 3, lua: LEASE_RENEW_SCRIPT });
    conn.defineCommand('mpLeaseRelease', { numberOfKeys: 1, lua: LEASE_RELEASE_SCRIPT });
    conn.defineCommand('mpLeaseRecord', { numberOfKeys: 2, lua: LEASE_RECORD_SCRIPT });
    this.commands = conn as unknown as LeaseCommands;
  }

  private async run<T>(op: () => Promise<T>): Promise<T> {
    this.ensureReady();
    try {
      return await op();
    } catch (err) {
      throw this.asBusError(err);
    }
  }

  acquireLease(name: string, owner: string, ttlMs: number, recordsTtlMs: number, opts: { ifKnown?: boolean } = {}): Promise<number | undefined> {
    const k = leaseKeys(this.prefix, name);
    this.recordsTtl.set(name, recordsTtlMs);
    return this.run(async () => {
      const fence = await this.commands.mpLeaseAcquire(k.lease, k.fence, k.records, owner, ttlMs, recordsTtlMs, opts.ifKnown === true ? '1' : '0');
      return fence === null ? undefined : Number(fence);
    });
  }

  renewLease(name: string, owner: string, fence: number, ttlMs: number, recordsTtlMs: number): Promise<boolean> {
    const k = leaseKeys(this.prefix, name);
    this.recordsTtl.set(name, recordsTtlMs);
    return this.run(async () => (await this.commands.mpLeaseRenew(k.lease, k.fence, k.records, owner, fence, ttlMs, recordsTtlMs)) === 1);
  }

  releaseLease(name: string, owner: string, fence: number): Promise<boolean> {
    const k = leaseKeys(this.prefix, name);
    return this.run(async () => (await this.commands.mpLeaseRelease(k.lease, owner, fence)) === 1);
  }

  leaseHolder(name: string): Promise<LeaseHolder | undefined> {
    const k = leaseKeys(this.prefix, name);
    return this.run(async () => {
      const value = await this.conn.get(k.lease);
      if (value === null) return undefined;
      const space = value.indexOf(' ');
      return { fence: Number(value.slice(0, space)), owner: value.slice(space + 1) };
    });
  }

  writeLeaseRecord(name: string, owner: string, fence: number, field: string, value: string | null): Promise<boolean> {
    const k = leaseKeys(this.prefix, name);
    const ttl = this.recordsTtl.get(name) ?? 60_000;
    return this.run(async () => (await this.commands.mpLeaseRecord(k.lease, k.records, owner, fence, field, value ?? '', value === null ? '1' : '0', ttl)) === 1);
  }

  leaseRecords(name: string): Promise<Record<string, string>> {
    const k = leaseKeys(this.prefix, name);
    return this.run(() => this.conn.hgetall(k.records));
  }
}
