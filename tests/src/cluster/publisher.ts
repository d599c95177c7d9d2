import { positions } from './producer-api.js';
import type { ProducerApi } from './producer-api.js';
import type { PublishLog } from './stream-check.js';
import { sleep } from './wait.js';

export interface PublishLoop {
  /** Publications the producer accepted. */
  readonly accepted: () => number;
  /** Replies that were not 2xx (e.g. 503 while Redis is away), with their status. */
  readonly refusals: () => number[];
  stop(): Promise<void>;
}

/**
 * Publishes `{seq}` on `channel` through the producer's HTTP API every `intervalMs` until
 * stopped, retrying a refused publication with the same seq, recording every accepted position.
 */
export function publishContinuously(api: ProducerApi, channel: string, log: PublishLog, opts: { intervalMs?: number; tag?: string } = {}): PublishLoop {
  const intervalMs = opts.intervalMs ?? 20;
  let stopped = false;
  let seq = 0;
  let accepted = 0;
  const refusals: number[] = [];
  const loop = (async () => {
    while (!stopped) {
      const data = { seq: seq + 1, tag: opts.tag ?? 'load' };
      try {
        const reply = await api.request('POST', '/v1/publish', { channel, data }, 3000);
        const [pos] = positions(reply.body);
        if ((reply.status === 200 || reply.status === 201) && pos) {
          log.add(pos, data);
          seq++;
          accepted++;
        } else refusals.push(reply.status);
      } catch {
        refusals.push(0);
      }
      await sleep(intervalMs);
    }
  })();
  return {
    accepted: () => accepted,
    refusals: () => refusals,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
