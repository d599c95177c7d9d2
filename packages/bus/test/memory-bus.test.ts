import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HistoryPolicy } from '../src/bus.js';
import { MemoryBus } from '../src/memory-bus.js';
import { runBusContract } from '../src/testing/contract.js';
import { runLeaseContract } from '../src/testing/lease-contract.js';

// Nodes of the embedded bus share one process, so every "node" is the same instance.
runBusContract('MemoryBus', async (history) => {
  const bus = new MemoryBus({ history });
  return { node: async () => bus, close: () => bus.close() };
});

describe('MemoryBus state for client-chosen channel names', () => {
  const history = (): HistoryPolicy => ({ size: 100, ttlMs: 60_000 });

  it('keeps nothing for 50,000 made-up channels that were read, or subscribed, read and let go', async () => {
    const bus = new MemoryBus({ history });
    for (let i = 0; i < 25_000; i++) await bus.history(`made:up-${i}`, { limit: 10 });
    for (let i = 0; i < 25_000; i++) {
      const ch = `held:up-${i}`;
      await bus.subscribe(ch);
      await bus.history(ch, { limit: 0 });
      await bus.unsubscribe(ch);
    }
    assert.equal(bus.channelCount, 0);
    await bus.close();
  });

  it('keeps a subscribed channel’s epoch across reads, and a published channel’s after unsubscribe', async () => {
    const bus = new MemoryBus({ history });
    await bus.subscribe('a');
    const e = (await bus.history('a')).epoch;
    assert.equal((await bus.history('a')).epoch, e);
    assert.equal((await bus.publish('a', '1')).epoch, e);
    await bus.unsubscribe('a');
    assert.deepEqual(await bus.history('a', { limit: 0 }), { epoch: e, offset: 1, publications: [], recovered: true });
    assert.equal(bus.channelCount, 1);
    await bus.close();
  });
});

runLeaseContract('MemoryBus', async () => {
  const bus = new MemoryBus({ history: () => ({ size: 100, ttlMs: 600_000 }) });
  return { a: bus, b: bus, close: () => bus.close() };
});
