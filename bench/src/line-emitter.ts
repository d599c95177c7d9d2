/**
 * The command a Megaphone bench job runs: prints `lines` timestamped lines spread evenly over
 * `durationMs`, like a chatty build step. Each line is `~T<epoch ms>~S<n>~xxx…` (see marks.ts).
 * Usage: node line-emitter.js <lines> <durationMs> [lineChars]
 */
import { markedText } from './loadgen/marks.js';
import { performanceNowEpochMs } from './loadgen/ws-client.js';

const lines = Number(process.argv[2] ?? 5000);
const durationMs = Number(process.argv[3] ?? 1000);
const lineChars = Number(process.argv[4] ?? 60);
const t0 = performance.now();
let printed = 0;

function tick(): void {
  const due = Math.min(lines, Math.floor(((performance.now() - t0) * lines) / durationMs) + 1);
  let out = '';
  for (; printed < due; printed++) out += `${markedText(performanceNowEpochMs(), printed + 1, lineChars)}\n`;
  if (out.length > 0) process.stdout.write(out);
  if (printed < lines) setTimeout(tick, 1);
}
tick();
