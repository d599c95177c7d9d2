// `node bench/dist/src/gateway-gc.js [--clients 1000] [--rate 50] [--seconds 10] [--rounds 4] [--variant "<node flags>"]…`
//
// How much of the gateway's low-rate latency is garbage collection: Megaphone's gateway as the
// benchmark runs it (its shipped V8 flags, services/gateway/src/node-flags.ts) and each variant
// (extra node flags appended, so `--max-semi-space-size=16` overrides the shipped 4) are all started
// and connected at once, then run the same step in alternation (A B, B A, …). Each gateway carries
// a `gc` PerformanceObserver (loaded with --import) that this script reads after every round:
// scavenges and mark-compacts per second, their total and longest pauses, and the share of the step
// spent collecting, beside the round's p50/p99 from the load generator and CPU per delivery.
import { readFileSync, mkdtempSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Loadgen } from './loadgen-handle.js';
import { startRedis } from './redis-server.js';
import { startSystem } from './systems.js';
import { stepResult } from './run-scenario.js';
import type { StepSpec } from './scenarios.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '4' },
    variant: { type: 'string', multiple: true, default: ['--max-semi-space-size=16'] },
  },
});
const clients = Number(values.clients);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
if (!(clients >= 1 && clients <= 20_000) || !(rate > 0 && rate <= 5000) || !(seconds > 0 && seconds <= 120) || !(rounds >= 1 && rounds <= 20)) {
  process.stderr.write('usage: gateway-gc [--clients 1..20000] [--rate msg/s] [--seconds 1..120] [--rounds 1..20] [--variant "<node flags>"]...\n');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'megaphone-gc-'));
const observer = join(dir, 'gc-observer.mjs');
// Each SIGUSR2 writes the pauses seen since the previous one to gc-<pid>.json and starts afresh.
writeFileSync(
  observer,
  `import { PerformanceObserver } from 'node:perf_hooks';
import { writeFileSync, renameSync } from 'node:fs';
let pauses = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) pauses.push([e.duration, e.detail?.kind ?? 0]); }).observe({ entryTypes: ['gc'] });
process.on('SIGUSR2', () => {
  const file = ${JSON.stringify(dir)} + '/gc-' + process.pid + '.json';
  writeFileSync(file + '.tmp', JSON.stringify(pauses));
  renameSync(file + '.tmp', file);
  pauses = [];
});
`,
);

/** Signals the gateway and reads what its observer wrote: [duration ms, kind][] (kind 1 = scavenge). */
async function gcSince(pid: number): Promise<[number, number][]> {
  const file = join(dir, `gc-${pid}.json`);
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 5000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`gateway ${pid} wrote no GC record`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return JSON.parse(readFileSync(file, 'utf8')) as [number, number][];
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

interface Round {
  p50: number;
  p99: number;
  usPerDelivery: number;
  scavengesPerSec: number;
  scavengeMsMax: number;
  gcShare: number;
  majors: number;
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const variants = [[], ...values.variant.map((v) => v.split(' ').filter((f) => f !== ''))];
  const step: StepSpec = { label: `${rate} msg/s`, ratePerChannel: rate, durationMs: seconds * 1000, payloadChars: 32, drainMs: 2000 };
  const started: { name: string; system: Awaited<ReturnType<typeof startSystem>>; loadgen: Loadgen; rounds: Round[] }[] = [];
  try {
    for (const flags of variants) {
      const name = flags.length === 0 ? 'as shipped' : flags.join(' ');
      const system = await startSystem('megaphone', { redisPort: redis.port, nodeFlags: [`--import=${pathToFileURL(observer).href}`, ...flags] });
      const loadgen = new Loadgen();
      started.push({ name, system, loadgen, rounds: [] });
      const conn = await loadgen.connect({
        protocol: system.protocol, port: system.port, pathTemplate: system.pathTemplate, clients,
        channels: ['bench'], sampleEvery: 20, concurrency: 50,
      });
      process.stdout.write(`${name}: ${conn.clients} clients connected\n`);
    }
    for (let round = -1; round < rounds; round++) {
      // Round -1 warms every gateway up and is not recorded; then the order rotates every round.
      const order = started.map((_, i) => started[(i + Math.max(0, round)) % started.length]!);
      for (const s of order) {
        await gcSince(s.system.pid);
        const reply = await s.loadgen.run({
          via: s.system.busVia ?? s.system.publishVia,
          ratePerChannel: step.ratePerChannel, durationMs: round < 0 ? 3000 : step.durationMs, payloadChars: step.payloadChars,
          drainMs: step.drainMs, stallFraction: 0, serverPid: s.system.pid, sidePids: [], redisPid: redis.pid,
        });
        const gc = await gcSince(s.system.pid);
        if (round < 0) continue;
        const r = stepResult(step, reply);
        const scav = gc.filter(([, kind]) => kind === 1).map(([d]) => d);
        const windowS = r.windowMs / 1000;
        const rd: Round = {
          p50: r.p50Ms, p99: r.p99Ms, usPerDelivery: r.cpuUsPerDelivery,
          scavengesPerSec: scav.length / windowS, scavengeMsMax: Math.max(0, ...scav),
          gcShare: gc.reduce((a, [d]) => a + d, 0) / r.windowMs, majors: gc.filter(([, kind]) => kind !== 1).length,
        };
        s.rounds.push(rd);
        process.stdout.write(
          `round ${round + 1} ${s.name}: p50 ${rd.p50.toFixed(1)} p99 ${rd.p99.toFixed(1)} ms, ${rd.usPerDelivery.toFixed(2)} µs/deliv, ` +
            `${(r.completeness * 100).toFixed(2)}% complete, scavenges ${rd.scavengesPerSec.toFixed(1)}/s (longest ${rd.scavengeMsMax.toFixed(2)} ms), ` +
            `other GCs ${rd.majors}, GC ${(rd.gcShare * 100).toFixed(2)}% of the time\n`,
        );
      }
    }
    process.stdout.write('\nmedians over rounds\n');
    for (const s of started) {
      const m = (f: (r: Round) => number): number => median(s.rounds.map(f));
      process.stdout.write(
        `${s.name.padEnd(28)} p50 ${m((r) => r.p50).toFixed(1)} p99 ${m((r) => r.p99).toFixed(1)} ms, ${m((r) => r.usPerDelivery).toFixed(2)} µs/deliv, ` +
          `scavenges ${m((r) => r.scavengesPerSec).toFixed(1)}/s (longest ${m((r) => r.scavengeMsMax).toFixed(2)} ms), GC ${(m((r) => r.gcShare) * 100).toFixed(2)}% of the time\n`,
      );
    }
  } finally {
    for (const s of started) {
      await s.loadgen.stop();
      await s.system.stop();
    }
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
