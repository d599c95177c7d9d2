import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@megaphone/testing';
import { FencedError, type Bus } from '../bus.js';
import type { Lease } from '../lease.js';

export type LeaseBus = Bus & Lease;

/** Two handles on one transport (two Redis connections, or one in-process bus twice). */
export interface LeaseNodes {
  a: LeaseBus;
  b: LeaseBus;
  close(): Promise<void>;
}

export interface LeaseContractOptions {
  before?: () => Promise<void>;
  after?: () => Promise<void>;
}

const RECORDS_TTL = 60_000;
const unique = (): string => `t-${randomBytes(5).toString('hex')}`;

/** The Lease contract (lease.ts) and fenced publishes (bus.ts), run against every implementation. */
export function runLeaseContract(name: string, factory: () => Promise<LeaseNodes>, options: LeaseContractOptions = {}): void {
  describe(`Lease contract: ${name}`, () => {
    let nodes: LeaseNodes;
    before(async () => {
      await options.before?.();
      nodes = await factory();
    });
    after(async () => {
      await nodes?.close();
      await options.after?.();
    });

    it('grants a free lease to one owner and refuses it to another while held', async () => {
      const lease = unique();
      const fence = await nodes.a.acquireLease(lease, 'p1', 10_000, RECORDS_TTL);
      assert.ok(fence !== undefined && fence > 0);
      assert.equal(await nodes.b.acquireLease(lease, 'p2', 10_000, RECORDS_TTL), undefined);
      assert.deepEqual(await nodes.b.leaseHolder(lease), { owner: 'p1', fence });
    });

    it('renews and releases only for the holder (owner and fence), and a release hands over at once', async () => {
      const lease = unique();
      const fence = (await nodes.a.acquireLease(lease, 'p1', 10_000, RECORDS_TTL))!;
      assert.equal(await nodes.b.renewLease(lease, 'p2', fence, 10_000, RECORDS_TTL), false);
      assert.equal(await nodes.b.renewLease(lease, 'p1', fence - 1, 10_000, RECORDS_TTL), false);
      assert.equal(await nodes.b.releaseLease(lease, 'p2', fence), false);
      assert.equal(await nodes.a.renewLease(lease, 'p1', fence, 10_000, RECORDS_TTL), true);
      assert.equal(await nodes.a.releaseLease(lease, 'p1', fence), true);
      const next = await nodes.b.acquireLease(lease, 'p2', 10_000, RECORDS_TTL);
      assert.ok(next !== undefined && next > fence, `a later grant has a larger fencing number (${next} > ${fence})`);
      assert.equal(await nodes.a.renewLease(lease, 'p1', fence, 10_000, RECORDS_TTL), false, 'the old holder cannot renew the new grant');
    });

    it('expires when not renewed, and the next grant has a larger fencing number', async () => {
      const lease = unique();
      const fence = (await nodes.a.acquireLease(lease, 'p1', 200, RECORDS_TTL))!;
      let next: number | undefined;
      await waitFor('the lease to expire', async () => (next = await nodes.b.acquireLease(lease, 'p2', 10_000, RECORDS_TTL)) !== undefined, { timeoutMs: 5000, intervalMs: 10 });
      assert.ok(next! > fence);
      assert.equal(await nodes.a.renewLease(lease, 'p1', fence, 10_000, RECORDS_TTL), false);
    });

    it('lets the last holder renew a lapsed lease that nobody else took', async () => {
      const lease = unique();
      const fence = (await nodes.a.acquireLease(lease, 'p1', 100, RECORDS_TTL))!;
      await waitFor('the lease to lapse', async () => (await nodes.b.leaseHolder(lease)) === undefined, { timeoutMs: 5000, intervalMs: 10 });
      assert.equal(await nodes.a.renewLease(lease, 'p1', fence, 10_000, RECORDS_TTL), true);
      assert.deepEqual(await nodes.b.leaseHolder(lease), { owner: 'p1', fence });
      assert.equal(await nodes.b.acquireLease(lease, 'p2', 10_000, RECORDS_TTL), undefined);
    });

    it('with ifKnown, grants a lease only where it was granted before', async () => {
      const lease = unique();
      assert.equal(await nodes.a.acquireLease(lease, 'p1', 10_000, RECORDS_TTL, { ifKnown: true }), undefined, 'never granted: the store may have lost it');
      const fence = (await nodes.a.acquireLease(lease, 'p1', 10_000, RECORDS_TTL))!;
      await nodes.a.releaseLease(lease, 'p1', fence);
      assert.ok(((await nodes.b.acquireLease(lease, 'p2', 10_000, RECORDS_TTL, { ifKnown: true })) ?? 0) > fence);
    });

    it('keeps records written by the holder only, and they outlive the holder', async () => {
      const lease = unique();
      const fence = (await nodes.a.acquireLease(lease, 'p1', 10_000, RECORDS_TTL))!;
      assert.equal(await nodes.a.writeLeaseRecord(lease, 'p1', fence, 'run:x', '{"job":"j"}'), true);
      assert.equal(await nodes.b.writeLeaseRecord(lease, 'p2', fence, 'run:y', '1'), false);
      assert.equal(await nodes.a.writeLeaseRecord(lease, 'p1', fence, 'gone', '1'), true);
      assert.equal(await nodes.a.writeLeaseRecord(lease, 'p1', fence, 'gone', null), true);
      await nodes.a.releaseLease(lease, 'p1', fence);
      const fence2 = (await nodes.b.acquireLease(lease, 'p2', 10_000, RECORDS_TTL))!;
      assert.deepEqual(await nodes.b.leaseRecords(lease), { 'run:x': '{"job":"j"}' });
      assert.equal(await nodes.a.writeLeaseRecord(lease, 'p1', fence, 'late', '1'), false, 'a deposed holder writes nothing');
      assert.equal(await nodes.b.writeLeaseRecord(lease, 'p2', fence2, 'run:x', null), true);
      assert.deepEqual(await nodes.a.leaseRecords(lease), {});
    });

    it('refuses a fenced publish older than one the channel has taken, and nothing of it is kept', async () => {
      const channel = `fence:${unique()}`;
      const first = await nodes.a.publish(channel, '{"n":1}', { fence: 100 });
      await nodes.b.publish(channel, '{"n":2}', { fence: 200 });
      await assert.rejects(nodes.a.publish(channel, '{"n":3}', { fence: 100 }), (err: unknown) => {
        assert.ok(err instanceof FencedError);
        assert.equal(err.newer, 200);
        return true;
      });
      await nodes.b.publish(channel, '{"n":4}', { fence: 200 });
      await nodes.a.publish(channel, '{"n":5}');
      const h = await nodes.a.history(channel);
      assert.equal(h.epoch, first.epoch);
      assert.deepEqual(
        h.publications.map((p) => [p.offset, JSON.parse(p.frame.toString()).data.n]),
        [
          [1, 1],
          [2, 2],
          [3, 4],
          [4, 5],
        ],
        'offsets stay consecutive: the refused publish took none',
      );
    });
  });
}
