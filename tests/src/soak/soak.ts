import { publishContinuously, type PublishLoop } from '../cluster/publisher.js';
import { RecordingClient } from '../cluster/recording-client.js';
import { PublishLog, checkStream, describe as describeStream } from '../cluster/stream-check.js';
import { sleep, waitFor } from '../cluster/wait.js';
import { FAULTS, inject, portRetries, recovered, type FaultName, type FaultRecord } from './faults.js';
import type { SoakOptions } from './options.js';
import { Rng } from './rng.js';
import { API_CHANNELS, SoakTopology, rssBytes } from './topology.js';

export interface SoakReport {
  seed: number;
  minutes: number;
  leaseMs: number;
  faults: FaultRecord[];
  published: { channel: string; accepted: number; refused: number }[];
  deliveries: number;
  readers: number;
  gaps: Record<string, number>;
  maxConcurrentRuns: number;
  /** Restarts that found their port taken by something else and were retried. */
  portRetries: number;
  memory: { name: string; baselineMiB: number; endMiB: number }[];
  violations: string[];
}

const MiB = 1024 * 1024;

/**
 * The chaos soak: the whole topology under load while a seeded scheduler injects faults, then the
 * checks: every reader's stream consecutive or with an explicit notice; every publication the API
 * acknowledged delivered to every reader unless a notice covers it; never two runs of a job at once;
 * every process's memory back within its band (1.5× its baseline, or baseline + 64 MiB).
 */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const rng = new Rng(opts.seed);
  const violations: string[] = [];
  const faults: FaultRecord[] = [];
  opts.log(`soak: seed ${opts.seed}, ${opts.minutes} min of faults, lease ${opts.leaseMs} ms`);
  const t = await SoakTopology.start({ leaseMs: opts.leaseMs, seed: opts.seed });
  let loops: PublishLoop[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    // The readers' pauses and moves happen on timers: their own stream, so the fault schedule
    // (kinds, targets, pauses between faults) follows from the seed alone.
    await t.connectReaders(new Rng(opts.seed ^ 0x5eed));
    const log = new PublishLog();
    loops = API_CHANNELS.map((channel, i) => publishContinuously(t.apiOf(i), channel, log, { intervalMs: 50, tag: channel }));
    let maxConcurrentRuns = 0;
    sampler = setInterval(() => {
      const groups = t.tickerGroups();
      const n = groups.size;
      if (n > maxConcurrentRuns) maxConcurrentRuns = n;
      if (n > 1) violations.push(`${n} runs of the ticker job at once at ${new Date().toISOString()}: ${[...groups].map(([g, by]) => `group ${g} of ${by}`).join(', ')}`);
    }, 100);
    await waitFor('publishing through both producers', () => loops.every((l) => l.accepted() >= 20), { timeoutMs: 30_000 });
    await recovered(t, 30_000);
    const services = () => [...t.producers, ...t.gateways].map((s) => ({ name: s.name, pid: s.running ? s.pid : undefined })).concat([{ name: 'redis', pid: t.redis.pid }]);
    const baseline = new Map(services().map((s) => [s.name, s.pid === undefined ? undefined : rssBytes(s.pid)]));

    const deadline = Date.now() + opts.minutes * 60_000;
    let order: FaultName[] = [];
    while (Date.now() < deadline) {
      if (order.length === 0) order = [...FAULTS].sort(() => rng.next() - 0.5);
      const name = order.shift()!;
      const startedAt = Date.now();
      try {
        const f = await inject(t, name, rng, opts.leaseMs);
        await recovered(t, 90_000);
        const record = { ...f, startedAt, recoveryMs: Date.now() - startedAt };
        faults.push(record);
        opts.log(`  ${new Date(startedAt).toISOString().slice(11, 19)} ${name} (${f.detail}): recovered in ${record.recoveryMs} ms${f.takeoverMs !== undefined ? `, takeover ${f.takeoverMs} ms` : ''}`);
        if (f.takeoverMs !== undefined && name === 'kill9-leader' && f.takeoverMs > opts.leaseMs + 1000 + 500) {
          violations.push(`${name}: the standby took ${f.takeoverMs} ms to lead (lease ${opts.leaseMs} ms + 1 s, + 0.5 s of sampling)`);
        }
      } catch (err) {
        violations.push(`${name}: no recovery: ${(err as Error).message}\n${[...t.producers, ...t.gateways].map((s) => s.tail(8)).join('\n')}`);
        break;
      }
      await sleep(rng.int(1000, 3000));
    }

    // Settle: stop the behaviours and the load, bring every reader back, let them catch up.
    t.stopBehaviours();
    await Promise.all(loops.map((l) => l.stop()));
    for (const r of t.readers) {
      if (r.client instanceof RecordingClient) {
        await r.client.settled();
        if (!r.client.open) await r.client.resumeOn(t.gateways[0]!.wsUrl).catch((err: Error) => violations.push(`${r.client.name} could not reconnect: ${err.message}`));
      } else await r.client.settled();
    }
    const target = (ch: string) => log.last.get(ch);
    const behind = () =>
      t.readers.flatMap((r) =>
        API_CHANNELS.filter((ch) => {
          const pos = checkStream(r.client.channelEvents(ch), log).position;
          const want = target(ch);
          return want !== undefined && (pos?.epoch !== want.epoch || pos.offset < want.offset);
        }).map((ch) => `${r.client.name} on ${ch}`),
      );
    await waitFor('every reader to reach the last acknowledged publication', () => behind().length === 0, { timeoutMs: 60_000, intervalMs: 200 }).catch(() =>
      violations.push(`not caught up: ${behind().join(', ')}`),
    );

    const gaps: Record<string, number> = {};
    let deliveries = 0;
    for (const r of t.readers) {
      for (const ch of r.channels) {
        const events = r.client.channelEvents(ch);
        const report = checkStream(events, API_CHANNELS.includes(ch as (typeof API_CHANNELS)[number]) ? log : undefined);
        deliveries += report.received;
        if (report.problems.length > 0) violations.push(describeStream(r.client, ch, report));
        for (const e of events) {
          if (e.kind === 'gap') gaps[e.reason] = (gaps[e.reason] ?? 0) + 1;
          else if (e.kind === 'subscribed' && e.since && e.recovered === false) gaps['resume not recovered'] = (gaps['resume not recovered'] ?? 0) + 1;
        }
      }
    }
    if (log.conflicts.length > 0) violations.push(`one position acknowledged for two publications: ${log.conflicts.slice(0, 3).join('; ')}`);

    await sleep(2000);
    const memory = services().map((s) => {
      const base = baseline.get(s.name);
      const end = s.pid === undefined ? undefined : rssBytes(s.pid);
      return { name: s.name, baselineMiB: (base ?? 0) / MiB, endMiB: (end ?? 0) / MiB, base, end };
    });
    for (const m of memory) {
      if (m.base !== undefined && m.end !== undefined && m.end > Math.max(m.base * 1.5, m.base + 64 * MiB)) {
        violations.push(`${m.name}: ${m.endMiB.toFixed(0)} MiB at the end, baseline ${m.baselineMiB.toFixed(0)} MiB`);
      }
    }
    return {
      seed: opts.seed,
      minutes: opts.minutes,
      leaseMs: opts.leaseMs,
      faults,
      published: API_CHANNELS.map((channel, i) => ({ channel, accepted: loops[i]!.accepted(), refused: loops[i]!.refusals().length })),
      deliveries,
      readers: t.readers.length,
      gaps,
      maxConcurrentRuns,
      portRetries,
      memory: memory.map(({ name, baselineMiB, endMiB }) => ({ name, baselineMiB, endMiB })),
      violations,
    };
  } finally {
    clearInterval(sampler);
    await Promise.all(loops.map((l) => l.stop()));
    await t.stop();
  }
}

export function formatReport(r: SoakReport): string {
  const byFault = new Map<string, number>();
  for (const f of r.faults) byFault.set(f.name, (byFault.get(f.name) ?? 0) + 1);
  const worst = r.faults.reduce<FaultRecord | undefined>((w, f) => (w === undefined || f.recoveryMs > w.recoveryMs ? f : w), undefined);
  const takeovers = (['kill9-leader', 'sigterm-leader'] as const).flatMap((name) => {
    const ms = r.faults.filter((f) => f.name === name && f.takeoverMs !== undefined).map((f) => f.takeoverMs!);
    return ms.length === 0 ? [] : [`${name} worst ${Math.max(...ms)} ms of ${ms.length}`];
  });
  return [
    `soak report: seed ${r.seed}, ${r.minutes} min of faults, lease ${r.leaseMs} ms`,
    `faults injected: ${r.faults.length} (${[...byFault].map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'})`,
    `publications acknowledged: ${r.published.map((p) => `${p.channel} ${p.accepted} (${p.refused} refused and retried)`).join(', ')}`,
    `deliveries: ${r.deliveries} to ${r.readers} readers`,
    `gaps by reason: ${Object.entries(r.gaps).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `worst recovery: ${worst ? `${worst.recoveryMs} ms (${worst.name}, ${worst.detail})` : 'n/a'}; takeovers: ${takeovers.join(', ') || 'none'}`,
    `most ticker runs at once: ${r.maxConcurrentRuns}; restarts retried because their port was taken: ${r.portRetries}`,
    `memory (MiB, baseline → end): ${r.memory.map((m) => `${m.name} ${m.baselineMiB.toFixed(0)} → ${m.endMiB.toFixed(0)}`).join(', ')}`,
    r.violations.length === 0 ? 'violations: none' : `violations (${r.violations.length}):\n  ${r.violations.join('\n  ')}`,
  ].join('\n');
}
