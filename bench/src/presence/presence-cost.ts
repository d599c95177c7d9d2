// What cluster presence costs Redis (SPEC §11, docs/architecture.md "Presence"): N simulated
// gateways, each with its own RedisBus and ClusterPresence, report subscriber counts for C channels
// through the control channel of a throwaway redis-server. Each scenario runs one reporting round
// on every gateway by hand (no timers), waits until every gateway has applied every report, and
// reads Redis's own counters (INFO stats, commandstats) before and after; the byte counts also
// hold the bus watchdogs' PINGs (a few hundred bytes per second). Rates are per round, and per second at
// the default PRESENCE_INTERVAL_MS (2 s).
//
//   npx tsc -b bench && node bench/dist/src/presence/presence-cost.js [gateways=10] [channels=10000]
import { RedisBus } from '@megaphone/bus';
import { RedisServer } from '@megaphone/testing';
import { ClusterPresence, decodeControl } from '@megaphone/gateway';
import { createLogger } from '@megaphone/runtime';

const GATEWAYS = Number(process.argv[2] ?? 10);
const CHANNELS = Number(process.argv[3] ?? 10_000);
const DEFAULT_INTERVAL_S = 2;
const logger = createLogger({ level: 'silent', service: 'bench', node: 'bench' });

interface Sim {
  name: string;
  bus: RedisBus;
  local: Map<string, number>;
  presence: ClusterPresence;
  /** Reports received from the others, and sent. */
  applied: number;
  sent: number;
}

/** PUBLISH calls (the watchdogs' PINGs are not presence's cost) and network bytes, from INFO. */
async function counters(redis: RedisServer): Promise<{ commands: number; inBytes: number; outBytes: number }> {
  const s = await redis.info('stats');
  const c = await redis.info('commandstats');
  const calls = /calls=(\d+)/.exec(c.cmdstat_publish ?? '')?.[1];
  return { commands: Number(calls ?? 0), inBytes: Number(s.total_net_input_bytes), outBytes: Number(s.total_net_output_bytes) };
}

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  const sims: Sim[] = [];
  try {
    for (let g = 0; g < GATEWAYS; g++) {
      const name = `gw-${g + 1}`;
      // Ten gateways share this one process, so a full round blocks its event loop for a while;
      // the bus watchdog must not take that for a hung Redis (each real gateway is its own process).
      const timeouts = { pingIntervalMs: 10_000, pingTimeoutMs: 60_000 };
      const bus = await RedisBus.create({ kind: 'redis', mode: 'standalone', host: '127.0.0.1', port: redis.port, keyPrefix: 'mp' }, { history: () => ({ size: 0, ttlMs: 1000 }), logger, clientName: name, timeouts });
      const local = new Map<string, number>();
      const sim: Sim = { name, bus, local, applied: 0, sent: 0, presence: undefined as unknown as ClusterPresence };
      const metrics = { reportSent: () => void sim.sent++, resync: () => console.log(`${name}: resync (a report was lost)`) };
      sim.presence = new ClusterPresence({ bus, node: name, boot: `${name}-b`, intervalMs: 60_000, local: () => local.entries(), localOf: (c) => local.get(c) ?? 0, logger, metrics });
      await bus.listenControl((text) => {
        const m = decodeControl(text);
        if (m === undefined || m.t === 'disconnect') return;
        sim.presence.receive(m);
        if (m.t === 'presence' && m.node !== name) sim.applied++;
      });
      sims.push(sim);
    }
    // Every gateway has subscribers on every channel: the worst case for the size of a report.
    for (const s of sims) for (let c = 0; c < CHANNELS; c++) s.local.set(`cmd:job-${c}`, 1 + ((c * 7 + s.name.length) % 50));

    const round = async (label: string, change: () => void): Promise<void> => {
      change();
      const before = await counters(redis);
      const appliedBefore = sims.map((s) => s.applied);
      const sentBefore = sims.reduce((n, s) => n + s.sent, 0);
      const sentOf = sims.map((s) => s.sent);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(sims.map((s) => s.presence.tick()));
      // Every gateway has applied every report the others sent in this round.
      const sent = sims.map((s) => s.sent).reduce((a, b) => a + b, 0) - sentBefore;
      const deadline = Date.now() + 60_000;
      const expected = (i: number): number => sent - (sims[i]!.sent - sentOf[i]!);
      while (sims.some((s, i) => s.applied - appliedBefore[i]! < expected(i)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const after = await counters(redis);
      const commands = after.commands - before.commands;
      const inB = after.inBytes - before.inBytes;
      const outB = after.outBytes - before.outBytes;
      const agree = sims.every((s) => s.presence.subscribers('cmd:job-1') === sims[0]!.presence.subscribers('cmd:job-1'));
      console.log(
        [
          label.padEnd(34),
          `${commands} PUBLISH`.padStart(13),
          `${(inB / 1024).toFixed(1)} KiB in`.padStart(14),
          `${(outB / 1024).toFixed(1)} KiB out`.padStart(15),
          `| at 2 s: ${(commands / DEFAULT_INTERVAL_S).toFixed(1)} PUBLISH/s, ${((inB + outB) / 1024 / DEFAULT_INTERVAL_S).toFixed(1)} KiB/s`,
          `| round ${ms.toFixed(0)} ms, sim CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms${agree ? '' : ' | DISAGREE'}`,
        ].join(' '),
      );
    };

    console.log(`presence cost: ${GATEWAYS} gateways × ${CHANNELS} channels (every gateway has subscribers on every channel), one round each`);
    await round('first reports (full state)', () => {});
    await round('steady, nothing changed (heartbeats)', () => {});
    await round('1% of channels changed per gateway', () => {
      for (const s of sims) for (let c = 0; c < CHANNELS; c += 100) s.local.set(`cmd:job-${c}`, (s.local.get(`cmd:job-${c}`) ?? 0) + 1);
    });
    await round('10% of channels changed per gateway', () => {
      for (const s of sims) for (let c = 0; c < CHANNELS; c += 10) s.local.set(`cmd:job-${c}`, (s.local.get(`cmd:job-${c}`) ?? 0) + 1);
    });
    await round('one gateway asked for a full report', () => {
      sims[0]!.presence.receive({ t: 'presence-sync', node: sims[0]!.name });
    });
  } finally {
    for (const s of sims) await s.bus.close();
    await redis.close();
  }
}

await main();
