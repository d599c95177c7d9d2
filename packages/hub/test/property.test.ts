import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MemoryBus } from '@megaphone/bus';
import type { ServerMessage } from '@megaphone/protocol';
import { Hub, type HubConnection } from '../src/index.js';
import { FakeSink, settle } from './fake-sink.js';
import { TestBus } from './test-bus.js';

const CHANNELS = ['a', 'b'] as const;

/** Runs per property: 60 in CI; `HUB_PROPERTY_RUNS=600` for a deeper run (fast-check prints the seed of a failure). */
function propertyRuns(): number {
  const raw = process.env.HUB_PROPERTY_RUNS;
  if (raw === undefined || raw === '') return 60;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`HUB_PROPERTY_RUNS must be a positive integer (got "${raw}")`);
  return n;
}
const CONNS = 3;

type Op =
  | { k: 'publish'; ch: number; n: number }
  | { k: 'subscribe'; conn: number; ch: number; mode: 'plain' | 'history' | 'since'; arg: number }
  | { k: 'unsubscribe'; conn: number; ch: number }
  | { k: 'stall'; conn: number }
  | { k: 'drain'; conn: number }
  | { k: 'lose'; on: boolean }
  | { k: 'reorder'; on: boolean }
  | { k: 'resubscribe' }
  | { k: 'reset' }
  | { k: 'turn' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('publish' as const), ch: fc.nat(1), n: fc.integer({ min: 1, max: 30 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('subscribe' as const),
      conn: fc.nat(CONNS - 1),
      ch: fc.nat(1),
      mode: fc.constantFrom('plain' as const, 'history' as const, 'since' as const),
      arg: fc.nat(40),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unsubscribe' as const), conn: fc.nat(CONNS - 1), ch: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('stall' as const), conn: fc.nat(CONNS - 1) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('drain' as const), conn: fc.nat(CONNS - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('lose' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reorder' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('resubscribe' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reset' as const) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('turn' as const) }) },
);

/**
 * Checks one connection's stream: per channel, after `subscribed` each message is the one after
 * the previous (or after a `gap`'s offset) — on a conflated channel, a later one. Returns each
 * subscribed channel's position: the latest of `subscribed`'s offset, the last message, the last gap.
 */
function check(msgs: ServerMessage[], conflated: (ch: string) => boolean): Map<string, number> {
  const last = new Map<string, number | undefined>();
  const pos = new Map<string, number>();
  for (const m of msgs) {
    if (m.op === 'subscribed') {
      last.set(m.channel, undefined);
      pos.set(m.channel, m.offset);
    } else if (m.op === 'unsubscribed') {
      last.delete(m.channel);
      pos.delete(m.channel);
    } else if (m.op === 'gap') {
      assert.ok(last.has(m.channel), 'gap only on a subscribed channel');
      last.set(m.channel, m.offset);
      pos.set(m.channel, m.offset);
    } else if (m.op === 'message') {
      assert.ok(last.has(m.channel), `message on ${m.channel} only while subscribed`);
      const prev = last.get(m.channel);
      if (prev !== undefined && conflated(m.channel)) assert.ok(m.offset > prev, `${m.channel}: ${m.offset} after ${prev}`);
      else if (prev !== undefined) assert.equal(m.offset, prev + 1, `${m.channel}: ${m.offset} follows ${prev}`);
      last.set(m.channel, m.offset);
      pos.set(m.channel, m.offset);
    }
  }
  return pos;
}

test('under random publishes, joins, stalls, losses, reorders and epoch changes every stream is consecutive or has an explicit gap or close', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 60 }), fc.constantFrom(15, 1000), async (ops, historySize) => {
      const bus = new TestBus(new MemoryBus({ history: () => ({ size: historySize, ttlMs: 3_600_000 }) }));
      const conflate = (ch: string) => ch === 'b' && historySize > 100;
      const hub = new Hub({ bus, maxQueueBytes: 4096, maxSubscriptionsPerConnection: 8, conflate });
      const sinks = Array.from({ length: CONNS }, () => new FakeSink());
      const conns: HubConnection[] = sinks.map((s) => hub.connect(s));
      const pending: Promise<unknown>[] = [];
      const latest = new Map<string, number>();
      let losing = false;
      let n = 0;
      for (const op of ops) {
        switch (op.k) {
          case 'publish':
            for (let i = 0; i < op.n; i++) {
              const ch = CHANNELS[op.ch]!;
              pending.push(bus.publish(ch, JSON.stringify({ pad: 'x'.repeat(150), n: n++ })).then((p) => latest.set(ch, p.offset)));
            }
            break;
          case 'subscribe': {
            const ch = CHANNELS[op.ch]!;
            const cmd =
              op.mode === 'plain'
                ? { op: 'subscribe' as const, id: 1, channel: ch }
                : op.mode === 'history'
                  ? { op: 'subscribe' as const, id: 1, channel: ch, history: op.arg }
                  : { op: 'subscribe' as const, id: 1, channel: ch, since: { epoch: (await bus.inner.history(ch, { limit: 0 })).epoch, offset: Math.max(0, (latest.get(ch) ?? 0) - op.arg) } };
            pending.push(conns[op.conn]!.subscribe(cmd));
            break;
          }
          case 'unsubscribe':
            pending.push(conns[op.conn]!.unsubscribe({ op: 'unsubscribe', id: 2, channel: CHANNELS[op.ch]! }));
            break;
          case 'stall':
            sinks[op.conn]!.stalled = true;
            break;
          case 'drain':
            sinks[op.conn]!.drain();
            conns[op.conn]!.drained();
            break;
          case 'lose':
            losing = op.on;
            bus.drop = losing ? (p) => p.offset % 7 === 3 : () => false;
            break;
          case 'reorder':
            if (op.on) bus.hold = (p) => p.offset % 5 === 1;
            else {
              bus.hold = () => false;
              bus.release();
            }
            break;
          case 'resubscribe':
            bus.resubscribed([...CHANNELS]);
            break;
          case 'reset':
            // The bus's store restarts empty: new epochs, offsets from 1 again.
            await Promise.all(pending);
            await bus.reset(new MemoryBus({ history: () => ({ size: historySize, ttlMs: 3_600_000 }) }));
            for (const ch of CHANNELS) latest.set(ch, 0);
            break;
          case 'turn':
            await settle(1);
            break;
        }
      }
      // Heal: the bus stops misbehaving and reconnects; every client drains.
      await Promise.all(pending);
      bus.drop = () => false;
      bus.hold = () => false;
      bus.release();
      bus.resubscribed([...CHANNELS]);
      for (let i = 0; i < 30; i++) {
        sinks.forEach((s, j) => {
          s.drain();
          conns[j]!.drained();
        });
        await settle(2);
      }
      for (const sink of sinks) {
        const lasts = check(sink.messages(), conflate);
        if (sink.closed !== undefined) {
          assert.equal(sink.closed.code, 4000);
          continue;
        }
        for (const [ch, o] of lasts) {
          assert.equal(o, latest.get(ch) ?? 0, `subscriber of ${ch} reached the end`);
        }
      }
      await hub.close();
    }),
    {
      numRuns: propertyRuns(),
      // Counterexamples found before, run first on every run.
      examples: [
        // A subscriber joined (from the node's then-current position) while the node moved to the
        // bus's new epoch; the node's gap went only to the subscribers live at that moment, and
        // with nothing published afterwards the joiner stayed in the old epoch (CI, 2026-11-30).
        [
          [
            { k: 'subscribe', conn: 0, ch: 0, mode: 'plain', arg: 0 },
            { k: 'publish', ch: 0, n: 1 },
            { k: 'turn' },
            { k: 'reset' },
            { k: 'subscribe', conn: 0, ch: 0, mode: 'since', arg: 0 },
            { k: 'subscribe', conn: 1, ch: 0, mode: 'plain', arg: 0 },
          ],
          15,
        ],
      ],
    },
  );
});
