import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryQuery, HistoryResult } from '@megaphone/bus';
import { HistoryBusyError, HistoryReads, MIN_PAGE_BYTES, pageBytes } from '../src/history-reads.js';

/** A bus whose history reads wait until the test lets them go. */
function gatedBus() {
  const calls: { channel: string; query: HistoryQuery; finish(): void }[] = [];
  const bus = {
    history(channel: string, query: HistoryQuery = {}): Promise<HistoryResult> {
      return new Promise((resolve) => {
        calls.push({ channel, query, finish: () => resolve({ epoch: 'e', offset: 0, publications: [], recovered: true }) });
      });
    },
  };
  return { bus, calls };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('identical reads of one channel waiting or in flight are one bus read', async () => {
  const { bus, calls } = gatedBus();
  const reads = new HistoryReads({ bus, maxInFlight: 4, maxWaiting: 4 });
  const q = { limit: 1000, maxBytes: 1 << 20 };
  const all = Array.from({ length: 50 }, () => reads.read('a', q, false));
  const other = reads.read('a', { limit: 10, maxBytes: 1 << 20 }, false);
  assert.equal(calls.length, 2);
  for (const c of calls) c.finish();
  assert.equal(new Set(await Promise.all(all)).size, 1, 'every joiner got the one result');
  await other;
  reads.read('a', q, false);
  assert.equal(calls.length, 3, 'a finished read is not reused');
});

test('at most maxInFlight reads run at once; the rest wait in order, and joins are refused once maxWaiting wait', async () => {
  const { bus, calls } = gatedBus();
  const reads = new HistoryReads({ bus, maxInFlight: 2, maxWaiting: 2 });
  const done: string[] = [];
  const r = (ch: string, mayWait: boolean) => reads.read(ch, {}, mayWait).then(() => void done.push(ch));
  const running = [r('a', false), r('b', false)];
  const queued = [r('c', false), r('d', false)];
  await assert.rejects(reads.read('e', {}, false), HistoryBusyError);
  const catchUp = r('f', true);
  assert.deepEqual({ calls: calls.length, ...reads.stats() }, { calls: 2, inFlight: 2, waiting: 3 });
  calls[0]!.finish();
  await tick();
  assert.deepEqual(calls.map((c) => c.channel), ['a', 'b', 'c']);
  for (let i = 1; i < 5; i++) {
    calls[i]!.finish();
    await tick();
  }
  await Promise.all([...running, ...queued, catchUp]);
  assert.deepEqual(done, ['a', 'b', 'c', 'd', 'f']);
  assert.deepEqual(reads.stats(), { inFlight: 0, waiting: 0 });
});

test('a subscriber’s page is its room rounded down to a power of two, within MIN_PAGE_BYTES and the cap', () => {
  const cap = 1 << 20;
  assert.equal(pageBytes(cap, cap), cap);
  assert.equal(pageBytes(cap - 1, cap), cap / 2);
  assert.equal(pageBytes(300_000, cap), 262_144);
  assert.equal(pageBytes(0, cap), MIN_PAGE_BYTES);
  assert.equal(pageBytes(-5, cap), MIN_PAGE_BYTES);
  assert.equal(pageBytes(10, 16_384), 16_384);
});
