import { MemoryBus } from '../src/memory-bus.js';
import { runBusContract } from '../src/testing/contract.js';

// Nodes of the embedded bus share one process, so every "node" is the same instance.
runBusContract('MemoryBus', async (history) => {
  const bus = new MemoryBus({ history });
  return { node: async () => bus, close: () => bus.close() };
});
