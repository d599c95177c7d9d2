import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { encodePublicationFrame } from '@megaphone/protocol';
import { waitFor } from '@megaphone/testing';
import { MAX_CONTROL_MESSAGE_BYTES, type Bus, type HistoryPolicy, type HistoryPolicyResolver, type Publication } from '../bus.js';

/**
 * Nodes on one shared transport. `node()` returns a bus as one more node would see it: a separate
 * instance for Redis; an in-process bus may return the same instance every time.
 */
export interface BusNodes {
  node(): Promise<Bus>;
  /** Closes every node created. */
  close(): Promise<void>;
}

/** Makes nodes whose history policy comes from `history`. */
export type BusNodesFactory = (history: HistoryPolicyResolver) => Promise<BusNodes>;

export interface BusContractOptions {
  /** Started once before the suite (e.g. a redis-server); the suite's factory may use what it set up. */
  before?: () => Promise<void>;
  after?: () => Promise<void>;
  /** Longest wait for a publication to arrive. */
  deliveryTimeoutMs?: number;
}

/**
 * Channels are named `ns:<random>` so suites can share one Redis. The history policy below is
 * what each namespace keeps; tests pick the namespace whose policy they exercise.
 */
const POLICIES: Record<string, HistoryPolicy> = {
  big: { size: 1000, ttlMs: 600_000 },
  three: { size: 3, ttlMs: 600_000 },
  young: { size: 1000, ttlMs: 400 },
  none: { size: 0, ttlMs: 600_000 },
};
const policy: HistoryPolicyResolver = (channel) => POLICIES[channel.slice(0, channel.indexOf(':'))] ?? POLICIES.big!;

function channelIn(ns: keyof typeof POLICIES): string {
  return `${ns}:${randomBytes(6).toString('hex')}`;
}

/** Collects what a node's handler receives, per channel. */
class Inbox {
  readonly pubs: Publication[] = [];
  resubscribed = 0;
  attach(bus: Bus): this {
    bus.setHandler({ publication: (p) => this.pubs.push(p), resubscribed: () => void this.resubscribed++ });
    return this;
  }
  on(channel: string): Publication[] {
    return this.pubs.filter((p) => p.channel === channel);
  }
  async waitFor(channel: string, count: number, timeoutMs: number): Promise<Publication[]> {
    await waitFor(`${count} publications on ${channel} (got ${this.on(channel).length})`, () => this.on(channel).length >= count, { timeoutMs, intervalMs: 10 });
    return this.on(channel);
  }
  /**
   * Waits for publication `offset` of `channel` and returns the offsets that arrived on it by then.
   * Delivery is in offset order per channel, so a publication that was wrongly delivered before
   * `offset` is in the list: publishing one more and waiting for it proves that nothing else came.
   */
  async through(channel: string, offset: number, timeoutMs: number): Promise<number[]> {
    const offsets = (): number[] => this.on(channel).map((p) => p.offset);
    await waitFor(`offset ${offset} on ${channel} (got ${offsets().join(',')})`, () => offsets().includes(offset), { timeoutMs, intervalMs: 10 });
    return offsets();
  }
}

const data = (i: number): string => JSON.stringify({ i, text: `line ${i} "quoted" ü` });

/** The Bus contract (bus.ts) as tests: run it against every Bus implementation and topology. */
export function runBusContract(name: string, factory: BusNodesFactory, options: BusContractOptions = {}): void {
  const timeout = options.deliveryTimeoutMs ?? 5000;

  describe(`Bus contract: ${name}`, () => {
    let nodes: BusNodes;
    before(async () => {
      await options.before?.();
      nodes = await factory(policy);
    });
    after(async () => {
      await nodes?.close();
      await options.after?.();
    });

    it('gives a channel offsets 1..n without gaps, in publish order, in one stable epoch', async () => {
      const bus = await nodes.node();
      const ch = channelIn('big');
      const positions = [];
      for (let i = 1; i <= 20; i++) positions.push(await bus.publish(ch, data(i)));
      assert.deepEqual(positions.map((p) => p.offset), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.equal(new Set(positions.map((p) => p.epoch)).size, 1);
      assert.ok(positions[0]!.epoch.length > 0);
    });

    it('keeps separate offsets per channel', async () => {
      const bus = await nodes.node();
      const a = channelIn('big');
      const b = channelIn('big');
      await bus.publish(a, '1');
      await bus.publish(a, '2');
      assert.equal((await bus.publish(b, '1')).offset, 1);
      assert.equal((await bus.publish(a, '3')).offset, 3);
    });

    it('creates the epoch on the first history read of a subscribed channel, and publications keep it', async () => {
      const bus = await nodes.node();
      const ch = channelIn('big');
      await bus.subscribe(ch);
      const first = await bus.history(ch);
      assert.deepEqual({ offset: first.offset, publications: first.publications, recovered: first.recovered }, { offset: 0, publications: [], recovered: true });
      assert.ok(first.epoch.length > 0);
      assert.equal((await bus.history(ch)).epoch, first.epoch);
      const pos = await bus.publish(ch, '1');
      assert.deepEqual(pos, { epoch: first.epoch, offset: 1 });
      await bus.unsubscribe(ch);
    });

    it('returns history in ascending offset order with the exact frames, latest offset and epoch', async () => {
      const bus = await nodes.node();
      const ch = channelIn('big');
      let epoch = '';
      for (let i = 1; i <= 5; i++) epoch = (await bus.publish(ch, data(i))).epoch;
      const h = await bus.history(ch);
      assert.equal(h.epoch, epoch);
      assert.equal(h.offset, 5);
      assert.equal(h.recovered, true);
      assert.deepEqual(h.publications.map((p) => p.offset), [1, 2, 3, 4, 5]);
      for (const [i, p] of h.publications.entries()) {
        assert.equal(p.channel, ch);
        assert.equal(p.epoch, epoch);
        assert.ok(Number.isSafeInteger(p.time) && Math.abs(p.time - Date.now()) < 60_000, 'time is a recent ms timestamp');
        assert.deepEqual(p.frame, encodePublicationFrame(ch, i + 1, p.time, data(i + 1)));
      }
    });

    it('returns the latest `limit` publications', async () => {
      const bus = await nodes.node();
      const ch = channelIn('big');
      for (let i = 1; i <= 10; i++) await bus.publish(ch, data(i));
      assert.deepEqual((await bus.history(ch, { limit: 3 })).publications.map((p) => p.offset), [8, 9, 10]);
      assert.deepEqual((await bus.history(ch, { limit: 0 })).publications, []);
      assert.equal((await bus.history(ch, { limit: 50 })).publications.length, 10);
    });

    it('recovers every publication after `since` when the epoch matches and history covers it', async () => {
      const bus = await nodes.node();
      const ch = channelIn('big');
      let epoch = '';
      for (let i = 1; i <= 10; i++) epoch = (await bus.publish(ch, data(i))).epoch;
      const h = await bus.history(ch, { since: { epoch, offset: 6 } });
      assert.equal(h.recovered, true);
      assert.equal(h.offset, 10);
      assert.deepEqual(h.publications.map((p) => p.offset), [7, 8, 9, 10]);
      const atTip = await bus.history(ch, { since: { epoch, offset: 10 } });
      assert.deepEqual({ recovered: atTip.recovered, n: atTip.publications.length }, { recovered: true, n: 0 });
      const fromZero = await bus.history(ch, { since: { epoch, offset: 0 } });
      assert.deepEqual(fromZero.publications.map((p) => p.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it('with `since` and `limit` returns the first `limit` publications after `since`', async () => {
      const bus = await nodes.node();
      const ch = channelIn('big');
      let epoch = '';
      for (let i = 1; i <= 10; i++) epoch = (await bus.publish(ch, data(i))).epoch;
      const h = await bus.history(ch, { since: { epoch, offset: 2 }, limit: 3 });
      assert.equal(h.recovered, true);
      assert.deepEqual(h.publications.map((p) => p.offset), [3, 4, 5]);
    });

    it('pages history by bytes: the oldest publications of the selection that fit `maxBytes`, at least one', async () => {
      const bus = await nodes.node();
      const ch = channelIn('big');
      let epoch = '';
      for (let i = 1; i <= 40; i++) epoch = (await bus.publish(ch, JSON.stringify('x'.repeat(1000)))).epoch;
      const frame = (await bus.history(ch, { limit: 1 })).publications[0]!.frame.length;
      const page = await bus.history(ch, { since: { epoch, offset: 5 }, maxBytes: frame * 3 + 10 });
      assert.deepEqual({ recovered: page.recovered, offset: page.offset, offsets: page.publications.map((p) => p.offset) }, { recovered: true, offset: 40, offsets: [6, 7, 8] });
      const next = await bus.history(ch, { since: { epoch, offset: 8 }, limit: 2, maxBytes: frame * 3 });
      assert.deepEqual(next.publications.map((p) => p.offset), [9, 10], '`limit` still applies');
      const one = await bus.history(ch, { since: { epoch, offset: 30 }, maxBytes: 1 });
      assert.deepEqual(one.publications.map((p) => p.offset), [31], 'a page holds at least one publication');
      const latest = await bus.history(ch, { limit: 10, maxBytes: frame * 4 });
      assert.deepEqual(latest.publications.map((p) => p.offset), [31, 32, 33, 34], 'the oldest of the latest `limit`');
      const near = await bus.history(ch, { since: { epoch, offset: 37 }, maxBytes: frame * 100 });
      assert.deepEqual(near.publications.map((p) => p.offset), [38, 39, 40]);
    });

    it('pages history that was trimmed by count from where it now starts', async () => {
      const bus = await nodes.node();
      const ch = channelIn('three');
      let epoch = '';
      for (let i = 1; i <= 8; i++) epoch = (await bus.publish(ch, data(i))).epoch;
      const h = await bus.history(ch, { limit: 10, maxBytes: 1 });
      assert.deepEqual(h.publications.map((p) => p.offset), [6]);
      assert.equal((await bus.history(ch, { since: { epoch, offset: 4 }, maxBytes: 1 })).recovered, false);
      assert.deepEqual((await bus.history(ch, { since: { epoch, offset: 6 }, maxBytes: 1 })).publications.map((p) => p.offset), [7]);
    });

    it('does not recover from another epoch or from an offset ahead of the channel', async () => {
      const bus = await nodes.node();
      const ch = channelIn('big');
      let epoch = '';
      for (let i = 1; i <= 3; i++) epoch = (await bus.publish(ch, data(i))).epoch;
      const other = await bus.history(ch, { since: { epoch: `${epoch}x`, offset: 1 } });
      assert.deepEqual({ ...other, publications: other.publications.length }, { epoch, offset: 3, publications: 0, recovered: false });
      const ahead = await bus.history(ch, { since: { epoch, offset: 4 } });
      assert.deepEqual({ recovered: ahead.recovered, n: ahead.publications.length, offset: ahead.offset }, { recovered: false, n: 0, offset: 3 });
    });

    it('trims history by count and then cannot recover what was trimmed', async () => {
      const bus = await nodes.node();
      const ch = channelIn('three');
      let epoch = '';
      for (let i = 1; i <= 6; i++) epoch = (await bus.publish(ch, data(i))).epoch;
      const h = await bus.history(ch);
      assert.equal(h.offset, 6);
      assert.deepEqual(h.publications.map((p) => p.offset), [4, 5, 6]);
      assert.equal((await bus.history(ch, { since: { epoch, offset: 2 } })).recovered, false);
      const ok = await bus.history(ch, { since: { epoch, offset: 3 } });
      assert.deepEqual({ recovered: ok.recovered, offsets: ok.publications.map((p) => p.offset) }, { recovered: true, offsets: [4, 5, 6] });
    });

    it('trims history by age and then cannot recover what expired', async () => {
      const bus = await nodes.node();
      const ch = channelIn('young');
      let epoch = '';
      for (let i = 1; i <= 3; i++) epoch = (await bus.publish(ch, data(i))).epoch;
      // Age is measured by the bus's clock (Redis: the server's), so the test waits for the expiry
      // it observes instead of sleeping past the TTL on its own clock.
      await waitFor('history older than the TTL to expire', async () => (await bus.history(ch)).publications.length === 0, { timeoutMs: POLICIES.young!.ttlMs + timeout });
      const pos = await bus.publish(ch, data(4));
      assert.deepEqual(pos, { epoch, offset: 4 }, 'expiry of history keeps the epoch and offset');
      const h = await bus.history(ch);
      assert.deepEqual(h.publications.map((p) => p.offset), [4]);
      assert.equal((await bus.history(ch, { since: { epoch, offset: 1 } })).recovered, false);
      assert.equal((await bus.history(ch, { since: { epoch, offset: 3 } })).recovered, true);
    });

    it('keeps no history when the policy size is 0, but still counts offsets', async () => {
      const bus = await nodes.node();
      const ch = channelIn('none');
      let epoch = '';
      for (let i = 1; i <= 3; i++) epoch = (await bus.publish(ch, data(i))).epoch;
      const h = await bus.history(ch);
      assert.deepEqual({ offset: h.offset, n: h.publications.length }, { offset: 3, n: 0 });
      assert.equal((await bus.history(ch, { since: { epoch, offset: 2 } })).recovered, false);
      assert.equal((await bus.history(ch, { since: { epoch, offset: 3 } })).recovered, true);
    });

    it('delivers publications on subscribed channels to the handler in offset order with the published frames', async () => {
      const bus = await nodes.node();
      const inbox = new Inbox().attach(bus);
      const ch = channelIn('big');
      await bus.subscribe(ch);
      const positions = [];
      for (let i = 1; i <= 30; i++) positions.push(await bus.publish(ch, data(i)));
      const got = await inbox.waitFor(ch, 30, timeout);
      assert.deepEqual(got.map((p) => p.offset), positions.map((p) => p.offset));
      for (const [i, p] of got.entries()) {
        assert.equal(p.epoch, positions[i]!.epoch);
        assert.deepEqual(p.frame, encodePublicationFrame(ch, p.offset, p.time, data(i + 1)));
      }
      const h = await bus.history(ch);
      assert.deepEqual(h.publications.map((p) => p.frame), got.map((p) => p.frame), 'live and history frames are the same bytes');
      await bus.unsubscribe(ch);
    });

    it('does not deliver channels nobody subscribed to, and stops after unsubscribe', async () => {
      const bus = await nodes.node();
      const inbox = new Inbox().attach(bus);
      const quiet = channelIn('big');
      const ch = channelIn('big');
      await bus.subscribe(ch);
      await bus.publish(quiet, '1');
      await bus.publish(ch, '1');
      await inbox.waitFor(ch, 1, timeout);
      await bus.unsubscribe(ch);
      await bus.publish(ch, '2');
      // Offset 2 of ch and 1 of quiet must never arrive: subscribe, publish one more on each and
      // wait for it; by then (offset order per channel) either would have arrived.
      await bus.subscribe(ch);
      await bus.subscribe(quiet);
      await bus.publish(ch, '3');
      await bus.publish(quiet, '2');
      assert.deepEqual(await inbox.through(ch, 3, timeout), [1, 3]);
      assert.deepEqual(await inbox.through(quiet, 2, timeout), [2]);
      await bus.unsubscribe(ch);
      await bus.unsubscribe(quiet);
    });

    it('treats a second subscribe to a channel as the same subscription (one delivery, one unsubscribe ends it)', async () => {
      const bus = await nodes.node();
      const inbox = new Inbox().attach(bus);
      const ch = channelIn('big');
      await bus.subscribe(ch);
      await bus.subscribe(ch);
      await bus.publish(ch, '1');
      await bus.publish(ch, '2');
      await bus.publish(ch, '3');
      assert.deepEqual(await inbox.through(ch, 3, timeout), [1, 2, 3], 'each publication once');
      await bus.unsubscribe(ch);
      await bus.publish(ch, '4');
      await bus.subscribe(ch); // a new subscription: what it delivers after 4 shows that 4 was not
      await bus.publish(ch, '5');
      assert.deepEqual(await inbox.through(ch, 5, timeout), [1, 2, 3, 5], 'nothing after the one unsubscribe');
      await bus.unsubscribe(ch);
    });

    it('delivers one node’s publications to another node subscribed to the channel', async () => {
      const publisher = await nodes.node();
      const subscriber = await nodes.node();
      const inbox = new Inbox().attach(subscriber);
      const ch = channelIn('big');
      await subscriber.subscribe(ch);
      const pos = await publisher.publish(ch, data(1));
      const [p] = await inbox.waitFor(ch, 1, timeout);
      assert.deepEqual({ epoch: p!.epoch, offset: p!.offset }, pos);
      assert.deepEqual(p!.frame, encodePublicationFrame(ch, 1, p!.time, data(1)));
      const h = await subscriber.history(ch);
      assert.deepEqual({ epoch: h.epoch, offset: h.offset }, pos);
      await subscriber.unsubscribe(ch);
    });

    it('keeps offsets gapless when two nodes publish to one channel concurrently', async () => {
      const a = await nodes.node();
      const b = await nodes.node();
      const watcher = await nodes.node();
      const inbox = new Inbox().attach(watcher);
      const ch = channelIn('big');
      await watcher.subscribe(ch);
      const results = await Promise.all(Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? a : b).publish(ch, data(i))));
      assert.deepEqual(results.map((r) => r.offset).sort((x, y) => x - y), Array.from({ length: 80 }, (_, i) => i + 1));
      assert.equal(new Set(results.map((r) => r.epoch)).size, 1);
      const got = await inbox.waitFor(ch, 80, timeout);
      assert.deepEqual(got.map((p) => p.offset), Array.from({ length: 80 }, (_, i) => i + 1));
      await watcher.unsubscribe(ch);
    });

    it('delivers a control message to every listening node, the sender included, until it stops listening', async () => {
      const a = await nodes.node();
      const b = await nodes.node();
      const tag = randomBytes(6).toString('hex');
      const gotA: string[] = [];
      const gotB: string[] = [];
      const stopA = await a.listenControl((m) => m.includes(tag) && gotA.push(m));
      const stopB = await b.listenControl((m) => m.includes(tag) && gotB.push(m));
      const message = JSON.stringify({ t: 'test', tag, text: 'ü "quoted"' });
      await a.publishControl(message);
      await waitFor(`the control message on both nodes (a: ${gotA.length}, b: ${gotB.length})`, () => gotA.length >= 1 && gotB.length >= 1, { timeoutMs: timeout, intervalMs: 10 });
      assert.deepEqual([gotA, gotB], [[message], [message]]);
      stopB();
      await b.publishControl(JSON.stringify({ t: 'test', tag, n: 2 }));
      await waitFor('the second control message on a', () => gotA.length >= 2, { timeoutMs: timeout, intervalMs: 10 });
      // One sender's control messages reach a node in the order sent: once a new listener on b has
      // the third, b has handed out the second, and the stopped listener must not have had it.
      const laterB: string[] = [];
      const stopLaterB = await b.listenControl((m) => m.includes(tag) && laterB.push(m));
      const third = JSON.stringify({ t: 'test', tag, n: 3 });
      await b.publishControl(third);
      await waitFor('the third control message on b', () => laterB.includes(third), { timeoutMs: timeout, intervalMs: 10 });
      assert.equal(gotB.length, 1, 'a listener that stopped gets nothing more');
      stopLaterB();
      stopA();
    });

    it('refuses a control message over MAX_CONTROL_MESSAGE_BYTES', async () => {
      const bus = await nodes.node();
      await assert.rejects(bus.publishControl('x'.repeat(MAX_CONTROL_MESSAGE_BYTES + 1)), RangeError);
      await bus.publishControl('x'.repeat(MAX_CONTROL_MESSAGE_BYTES - 16));
    });

    it('is ready while open', async () => {
      const bus = await nodes.node();
      assert.equal(bus.isReady(), true);
    });
  });
}
