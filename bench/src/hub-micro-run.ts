import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnPinned, SERVER_CORE, captureOutput } from './processes.js';

/** One row of the hub engineer's micro-benchmark (`bench/src/hub/hub-micro.ts --json`). */
export interface HubMicroRow {
  subscribers: number;
  batch: number;
  deliveries: number;
  nsPerDelivery: number;
  deliveriesPerSecond: number;
}

const HUB_MICRO = join(fileURLToPath(new URL('.', import.meta.url)), 'hub', 'hub-micro.js');

/** Runs the hub micro-benchmark as its own process on the server core; undefined when it is absent. */
export async function runHubMicroBench(quick: boolean): Promise<HubMicroRow[] | undefined> {
  if (!existsSync(HUB_MICRO)) return undefined;
  const child = spawnPinned(SERVER_CORE, process.execPath, [HUB_MICRO, '--json', ...(quick ? ['--quick'] : [])]);
  const output = captureOutput(child);
  let stdout = '';
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`hub micro-benchmark exited with ${code}: ${output()}`);
  const line = stdout.trim().split('\n').pop() ?? '[]';
  return JSON.parse(line) as HubMicroRow[];
}
