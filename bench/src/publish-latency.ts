// `node bench/dist/src/publish-latency.js [--rates 50,1000] [--seconds 8] [--rounds 3] [--neighbour both|on|off]
//   [--via producer,bus] [--ticks] [--producer-flags="<node flags>"]`
//
// How long `POST /v1/publish` takes to reach Redis: a real producer process and a throwaway
// redis-server, both pinned to the load core; this process (pinned to the other core when taskset
// exists) posts one publication per request (`--ticks`: one array per 5 ms of what is due, as the
// benchmark's publisher), open loop, and listens on the channel's pub/sub key itself. `--via bus`
// runs the same publish script with `Bus.publish` from this process: the path without the producer.
// Per publication: send → the Redis `time` in the payload header (the publish script's clock, 1 ms
// resolution), send → the pub/sub message here, send → the HTTP answer (or the bus's reply); and the
// producer's CPU per publication. With `--neighbour on` a CPU-burning process shares the load core,
// as the load generator does in the benchmark. Conditions alternate (A B, B A, …) over the rounds
// and the summary is the median of the rounds' medians and p99s.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createBus } from '@megaphone/bus';
import { PRODUCER_BIN } from '@megaphone/producer';
import { createLogger } from '@megaphone/runtime';
import { captureOutput, freePort, LOAD_CORE, SERVER_CORE, spawnPinned, stopChild, waitForHttpOk } from './processes.js';
import { processCpuUs } from './proc-stats.js';
import { startRedis } from './redis-server.js';

// The producer's command (its package's bin), as npm run producer starts it.
const PRODUCER_MAIN = PRODUCER_BIN;
const CHANNEL = 'lat';

interface Samples {
  toRedis: number[];
  toSubscriber: number[];
  toAnswer: number[];
  errors: number;
  /** The producer's CPU per publication, µs (10 ms clock ticks over the run). */
  cpuUs: number;
}

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '50,1000' },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    neighbour: { type: 'string', default: 'both' },
    'producer-flags': { type: 'string', default: '' },
    /** As the benchmark's publisher: every 5 ms, one request holding what is due (an array). */
    ticks: { type: 'boolean', default: false },
    /** producer: POST /v1/publish; bus: Bus.publish from this process (the same script, no producer in between). */
    via: { type: 'string', default: 'producer' },
  },
});
const rates = values.rates.split(',').map(Number);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const neighbours = values.neighbour === 'both' ? [false, true] : [values.neighbour === 'on'];
const vias = values.via.split(',');
if (vias.some((v) => v !== 'producer' && v !== 'bus')) {
  process.stderr.write('--via takes producer, bus or both (comma-separated)\n');
  process.exit(2);
}
if (rates.some((r) => !(r > 0 && r <= 20_000)) || !(seconds > 0 && seconds <= 120) || !(rounds >= 1 && rounds <= 20)) {
  process.stderr.write('usage: publish-latency [--rates 50,1000] [--seconds 1..120] [--rounds 1..20] [--neighbour both|on|off]\n');
  process.exit(2);
}

const nowMs = (): number => performance.timeOrigin + performance.now();

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function median(xs: readonly number[]): number {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}

async function main(): Promise<void> {
  const pin = spawn('taskset', ['-cp', String(SERVER_CORE), String(process.pid)], { stdio: 'ignore' });
  await new Promise((r) => pin.once('close', r).once('error', r));
  const redis = await startRedis();
  const [port, adminPort] = await Promise.all([freePort(), freePort()]);
  const dir = mkdtempSync(join(tmpdir(), 'megaphone-publat-'));
  writeFileSync(join(dir, 'jobs.yaml'), 'jobs: []\n');
  const producer = spawnPinned(LOAD_CORE, process.execPath, [...values['producer-flags'].split(' ').filter((f) => f !== ''), PRODUCER_MAIN], {
    cwd: dir,
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      LOG_LEVEL: 'warn',
      NODE_NAME: 'publat-producer',
      PRODUCER_HOST: '127.0.0.1',
      PRODUCER_PORT: String(port),
      PRODUCER_ADMIN_HOST: '127.0.0.1',
      PRODUCER_ADMIN_PORT: String(adminPort),
      PRODUCER_JOBS_FILE: join(dir, 'jobs.yaml'),
    },
  });
  const out = captureOutput(producer);
  const sub = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true });
  try {
    await waitForHttpOk(`http://127.0.0.1:${adminPort}/readyz`, 20_000, 'producer', producer);
    await sub.connect();
    const sent = new Map<number, number>();
    let current: Samples | undefined;
    sub.on('messageBuffer', (_ch: Buffer, payload: Buffer) => {
      const at = nowMs();
      const nl = payload.indexOf(0x0a);
      const redisTime = Number(payload.toString('latin1', 0, nl).split(' ')[2]);
      const m = /"seq":(\d+)/.exec(payload.toString('latin1', nl + 1));
      const seq = m === null ? NaN : Number(m[1]);
      const t0 = sent.get(seq);
      if (t0 === undefined || current === undefined) return;
      sent.delete(seq);
      current.toRedis.push(redisTime - t0);
      current.toSubscriber.push(at - t0);
    });
    await sub.subscribe(`{mp:${CHANNEL}}:p`);
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    let seq = 0;
    const bus = await createBus(
      { kind: 'redis', keyPrefix: 'mp', mode: 'standalone', host: '127.0.0.1', port: redis.port },
      { history: () => ({ size: 100, ttlMs: 60_000 }), logger: createLogger({ level: 'warn', service: 'bench', node: 'publat' }) },
    );
    let via = vias[0]!;
    const post = (s: Samples, n: number): void => {
      const items = Array.from({ length: n }, () => ({ channel: CHANNEL, data: { seq: ++seq } }));
      if (via === 'bus') {
        const t0 = nowMs();
        for (const it of items) {
          sent.set(it.data.seq, t0);
          bus.publish(it.channel, JSON.stringify(it.data)).then(() => s.toAnswer.push(nowMs() - t0), () => s.errors++);
        }
        return;
      }
      const body = JSON.stringify(values.ticks ? items : items[0]);
      const t0 = nowMs();
      for (const it of items) sent.set(it.data.seq, t0);
      const req = request(
        { host: '127.0.0.1', port, path: '/v1/publish', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? s.toAnswer.push(nowMs() - t0) : s.errors++));
        },
      );
      req.on('error', () => s.errors++);
      req.end(body);
    };
    const runOnce = async (rate: number, ms: number): Promise<Samples> => {
      const s: Samples = { toRedis: [], toSubscriber: [], toAnswer: [], errors: 0, cpuUs: 0 };
      current = s;
      const cpu0 = processCpuUs(producer.pid!);
      const total = Math.floor((rate * ms) / 1000);
      const start = performance.now();
      let done = 0;
      while (done < total) {
        const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
        if (values.ticks) {
          if (due > done) post(s, due - done);
          done = due;
        } else for (; done < due; done++) post(s, 1);
        await new Promise((r) => setTimeout(r, values.ticks ? 5 : 1));
      }
      await new Promise((r) => setTimeout(r, 500));
      sent.clear();
      s.cpuUs = (processCpuUs(producer.pid!) - cpu0) / total;
      return s;
    };
    await runOnce(200, 1000); // warm-up: JIT, connections
    const results = new Map<string, { p50: number[]; p99: number[]; sub50: number[]; sub99: number[]; ans50: number[]; ans99: number[]; cpu: number[]; n: number; errors: number }>();
    for (let round = 0; round < rounds; round++) {
      // Alternate the order every round so that drift in the machine's load does not favour one condition.
      const conditions = vias.flatMap((v) => neighbours.map((n) => [v, n] as const));
      const order = round % 2 === 0 ? conditions : [...conditions].reverse();
      for (const [v, withNeighbour] of order) {
        via = v;
        const burner = withNeighbour ? spawnPinned(LOAD_CORE, process.execPath, ['-e', 'for(;;){}']) : undefined;
        try {
          for (const rate of rates) {
            const s = await runOnce(rate, seconds * 1000);
            const key = `${via} ${rate}/s ${withNeighbour ? 'with neighbour' : 'quiet'}`;
            const r = results.get(key) ?? { p50: [], p99: [], sub50: [], sub99: [], ans50: [], ans99: [], cpu: [], n: 0, errors: 0 };
            const sort = (xs: number[]): number[] => xs.sort((a, b) => a - b);
            const [toRedis, toSub, toAnswer] = [sort(s.toRedis), sort(s.toSubscriber), sort(s.toAnswer)];
            r.p50.push(quantile(toRedis, 0.5));
            r.p99.push(quantile(toRedis, 0.99));
            r.sub50.push(quantile(toSub, 0.5));
            r.sub99.push(quantile(toSub, 0.99));
            r.ans50.push(quantile(toAnswer, 0.5));
            r.ans99.push(quantile(toAnswer, 0.99));
            r.cpu.push(s.cpuUs);
            r.n += toRedis.length;
            r.errors += s.errors;
            results.set(key, r);
            const f = (x: number): string => x.toFixed(2);
            process.stdout.write(
              `round ${round + 1} ${key}: n=${toRedis.length} redis p50 ${f(quantile(toRedis, 0.5))} p99 ${f(quantile(toRedis, 0.99))} | ` +
                `subscriber p50 ${f(quantile(toSub, 0.5))} p99 ${f(quantile(toSub, 0.99))} | answer p50 ${f(quantile(toAnswer, 0.5))} p99 ${f(quantile(toAnswer, 0.99))} ms | ${s.cpuUs.toFixed(0)} µs cpu/pub\n`,
            );
          }
        } finally {
          if (burner !== undefined) await stopChild(burner, 100);
        }
      }
    }
    process.stdout.write('\nmedians over rounds (ms; POST sent → Redis time in the payload (1 ms resolution) / → pub/sub message here / → HTTP answer)\n');
    for (const [key, r] of results) {
      const f = (xs: number[]): string => median(xs).toFixed(2);
      process.stdout.write(
        `${key.padEnd(34)} redis p50 ${f(r.p50)} p99 ${f(r.p99)} | subscriber p50 ${f(r.sub50)} p99 ${f(r.sub99)} | answer p50 ${f(r.ans50)} p99 ${f(r.ans99)} | ${median(r.cpu).toFixed(0)} µs cpu/pub | n=${r.n} errors=${r.errors}\n`,
      );
    }
    agent.destroy();
    await bus.close();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\nproducer: ${out()}\n`);
    process.exitCode = 1;
  } finally {
    sub.disconnect();
    await stopChild(producer);
    await redis.stop();
  }
}

await main();
