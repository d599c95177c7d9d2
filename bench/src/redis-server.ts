import type { ChildProcess } from 'node:child_process';
import { freePort, LOAD_CORE, spawnPinned, stopChild, waitForOutput } from './processes.js';

export interface RedisHandle {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A throwaway redis-server on a free loopback port, pinned to the load core, no persistence. */
export async function startRedis(): Promise<RedisHandle> {
  const port = await freePort();
  const child: ChildProcess = spawnPinned(LOAD_CORE, 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--protected-mode', 'yes', '--maxclients', '10000',
    '--client-output-buffer-limit', 'pubsub 0 0 0',
  ]);
  await waitForOutput(child, /Ready to accept connections|ready to accept/i, 10_000, 'redis-server');
  return { port, pid: child.pid!, stop: () => stopChild(child) };
}
