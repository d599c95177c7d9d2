// Placeholder until the Redis bus lands (issue 3): keeps createBus compiling.
import type { BusConfig, Logger } from '@megaphone/runtime';
import type { Bus, HistoryPolicyResolver } from './bus.js';

export class RedisBus {
  static async create(_config: BusConfig, _opts: { history: HistoryPolicyResolver; logger: Logger; clientName?: string }): Promise<Bus> {
    throw new Error('the Redis bus is not implemented yet');
  }
}
