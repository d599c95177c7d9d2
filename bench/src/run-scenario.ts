import { Loadgen } from './loadgen-handle.js';
import { processRssBytes } from './proc-stats.js';
import { startSystem, type SystemName, type StartOptions } from './systems.js';
import type { ScenarioSpec, StepSpec } from './scenarios.js';
import type { RunReply } from './loadgen/messages.js';
import type { StepResult, SystemResult } from './results.js';
import { LOAD_CORE, SERVER_CORE } from './processes.js';

/** A run is invalid when the load generator used more than this share of its core, or the core was full. */
export const LOADGEN_CPU_LIMIT = 0.9;
export const LOAD_CORE_LIMIT = 0.95;
const MiB = 1024 * 1024;

export interface RunOptions {
  redisPort: number;
  redisPid: number;
  nodeFlags?: string[];
  /** Node flags for Megaphone's producer and for the load generator (profiling them). */
  producerFlags?: string[];
  loadgenFlags?: string[];
  /** Megaphone with tokens on (`--auth`). */
  auth?: boolean;
  log: (line: string) => void;
}

export function channelsFor(spec: ScenarioSpec): string[] {
  if (spec.steps.some((s) => s.jobLines !== undefined)) return ['cmd:burst'];
  if (spec.channels === 1) return ['bench'];
  return Array.from({ length: spec.channels }, (_, i) => `bench.${i}`);
}

/** The benchmark's own processes on the load core (others' processes on a shared machine excluded). */
function loadCoreUsed(r: RunReply): number {
  const wallMs = r.windowMs;
  return r.loadgenCpu + (r.sideCpuUs + r.redisCpuUs) / 1000 / wallMs;
}

export function stepResult(step: StepSpec, r: RunReply): StepResult {
  const completeness = r.expected > 0 ? r.delivered / r.expected : 0;
  const p99Ms = r.latencyUs.p99 / 1000;
  return {
    label: step.label,
    offeredPerSec: r.expected / (r.publishMs / 1000),
    deliveredPerSec: r.delivered / (r.windowMs / 1000),
    expected: r.expected,
    delivered: r.delivered,
    completeness,
    cpuUsPerDelivery: r.delivered > 0 ? r.serverCpuUs / r.delivered : 0,
    serverCpu: r.serverCpuUs / 1000 / r.windowMs,
    p50Ms: r.latencyUs.p50 / 1000,
    p99Ms,
    p999Ms: r.latencyUs.p999 / 1000,
    maxMs: r.latencyUs.max / 1000,
    latencySamples: r.latencyUs.count,
    loadgenCpu: r.loadgenCpu,
    serverCoreBusy: r.coreBusy[SERVER_CORE] ?? 0,
    sideCpu: r.sideCpuUs / 1000 / r.windowMs,
    redisCpu: r.redisCpuUs / 1000 / r.windowMs,
    loadCoreUsed: loadCoreUsed(r),
    loadCoreBusy: r.coreBusy[LOAD_CORE] ?? 0,
    valid: r.loadgenCpu < LOADGEN_CPU_LIMIT && loadCoreUsed(r) < LOAD_CORE_LIMIT && r.publishErrors === 0,
    saturated: completeness < 0.999 || p99Ms > 1000,
    disorder: r.disorder,
    publishErrors: r.publishErrors,
    ...(r.firstPublishError ? { firstPublishError: r.firstPublishError } : {}),
    serverRssStartMiB: r.serverRssStartBytes / MiB,
    serverRssPeakMiB: r.serverRssPeakBytes / MiB,
    closeCodes: r.closeCodes,
    stalledDelivered: r.stalledDelivered,
    windowMs: r.windowMs,
    ...(r.frames > 0 ? { deliveriesPerFrame: (r.delivered + r.stalledDelivered) / r.frames } : {}),
  };
}

/** Starts one system fresh, connects the scenario's clients, runs its steps, stops everything. */
export async function runScenarioOn(name: SystemName, spec: ScenarioSpec, opts: RunOptions): Promise<SystemResult> {
  const burst = spec.steps.find((s) => s.jobLines !== undefined);
  const startOpts: StartOptions = {
    redisPort: opts.redisPort,
    ...(opts.auth === true ? { auth: true } : {}),
    ...(opts.nodeFlags ? { nodeFlags: opts.nodeFlags } : {}),
    ...(opts.producerFlags ? { producerNodeFlags: opts.producerFlags } : {}),
  };
  if (burst?.jobLines !== undefined) startOpts.burst = { lines: burst.jobLines, durationMs: burst.durationMs };
  const system = await startSystem(name, startOpts);
  const loadgen = new Loadgen(opts.loadgenFlags);
  const result: SystemResult = {
    system: name, clients: 0, connectFailed: 0, connectMs: 0, idleKiBPerConnection: 0, rssBeforeMiB: 0, rssConnectedMiB: 0, steps: [],
  };
  try {
    await new Promise((r) => setTimeout(r, 300));
    const rssBefore = processRssBytes(system.pid);
    const conn = await loadgen.connect({
      protocol: system.protocol,
      port: system.port,
      pathTemplate: system.pathTemplate,
      ...(system.token !== undefined ? { token: system.token } : {}),
      clients: spec.clients,
      channels: channelsFor(spec),
      sampleEvery: spec.sampleEvery,
      concurrency: 50,
    });
    result.clients = conn.clients;
    result.connectFailed = conn.failed;
    if (conn.firstError) result.connectError = conn.firstError;
    result.connectMs = conn.elapsedMs;
    await new Promise((r) => setTimeout(r, 1000));
    const rssConnected = processRssBytes(system.pid);
    result.rssBeforeMiB = rssBefore / MiB;
    result.rssConnectedMiB = rssConnected / MiB;
    result.idleKiBPerConnection = conn.clients > 0 ? (rssConnected - rssBefore) / 1024 / conn.clients : 0;
    opts.log(`  ${name}: ${conn.clients} clients connected in ${(conn.elapsedMs / 1000).toFixed(1)} s` +
      (conn.failed ? ` (${conn.failed} failed: ${conn.firstError})` : '') + `, idle ${result.idleKiBPerConnection.toFixed(1)} KiB/conn`);
    if (conn.clients === 0) throw new Error(`no client could connect: ${conn.firstError}`);
    for (const step of spec.idleOnly ? [] : spec.steps) {
      const via =
        step.jobLines !== undefined && system.jobVia
          ? system.jobVia(step.jobLines)
          : spec.megaphoneVia === 'bus' && system.busVia
            ? system.busVia
            : system.publishVia;
      const reply = await loadgen.run({
        via,
        ratePerChannel: step.ratePerChannel,
        durationMs: step.durationMs,
        payloadChars: step.payloadChars,
        drainMs: step.drainMs,
        stallFraction: step.stallFraction ?? 0,
        serverPid: system.pid,
        sidePids: system.sidePids,
        redisPid: opts.redisPid,
      });
      const s = stepResult(step, reply);
      result.steps.push(s);
      opts.log(
        `  ${name} ${step.label}: ${fmtRate(s.deliveredPerSec)}/s delivered, ${(s.completeness * 100).toFixed(2)}% complete, ` +
          `${s.cpuUsPerDelivery.toFixed(2)} µs/delivery, cpu ${(s.serverCpu * 100).toFixed(0)}%, p99 ${s.p99Ms.toFixed(1)} ms, ` +
          `loadgen ${(s.loadgenCpu * 100).toFixed(0)}%, producer ${(s.sideCpu * 100).toFixed(0)}%, redis ${(s.redisCpu * 100).toFixed(0)}% → load core ${(s.loadCoreUsed * 100).toFixed(0)}%; machine cores ${(s.serverCoreBusy * 100).toFixed(0)}/${(s.loadCoreBusy * 100).toFixed(0)}%${s.valid ? '' : ' INVALID'}${s.publishErrors ? ` (${s.publishErrors} publish errors: ${s.firstPublishError})` : ''}`,
      );
      if (spec.stopWhenSaturated && s.saturated) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    opts.log(`  ${name}: ERROR ${result.error}`);
  } finally {
    await loadgen.stop();
    await system.stop();
  }
  return result;
}

export function fmtRate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/**
 * The channels one system's clients use while every system is up at once. The peers that take
 * plain Redis `PUBLISH <channel>` (naive, batched, floor) all subscribe to the channel by its name
 * on the same Redis: under one name, every round of one of them would also be a round of the
 * others, on the same server core. Those get a channel of their own; Megaphone and Socket.IO
 * publish in their own formats (their rounds never reach anyone else) and keep the scenario's.
 */
export function alternatingChannels(spec: ScenarioSpec, system: { name: SystemName; publishVia: { kind: string } }): string[] {
  const channels = channelsFor(spec);
  return system.publishVia.kind === 'redis-plain' ? channels.map((c) => `${c}.${system.name}`) : channels;
}

/**
 * Runs the same step on several systems in alternation (A B C D, B C D A, …), all started and
 * connected up front, after one unrecorded warm-up round each, and reports each system's median
 * round. On a shared machine the load drifts over minutes; alternating puts every system under the
 * same drift, which matters when the comparison is ±10%.
 */
export async function runAlternating(names: readonly SystemName[], spec: ScenarioSpec, rounds: number, opts: RunOptions): Promise<SystemResult[]> {
  const step = spec.steps[0];
  if (step === undefined) throw new Error('runAlternating needs one step');
  const started: { name: SystemName; system: Awaited<ReturnType<typeof startSystem>>; loadgen: Loadgen; result: SystemResult; runs: StepResult[] }[] = [];
  try {
    for (const name of names) {
      const system = await startSystem(name, { redisPort: opts.redisPort, ...(opts.auth === true ? { auth: true } : {}) });
      const loadgen = new Loadgen(opts.loadgenFlags);
      const result: SystemResult = { system: name, clients: 0, connectFailed: 0, connectMs: 0, idleKiBPerConnection: 0, rssBeforeMiB: 0, rssConnectedMiB: 0, steps: [] };
      started.push({ name, system, loadgen, result, runs: [] });
      const conn = await loadgen.connect({
        protocol: system.protocol, port: system.port, pathTemplate: system.pathTemplate, clients: spec.clients,
        ...(system.token !== undefined ? { token: system.token } : {}),
        channels: alternatingChannels(spec, system), sampleEvery: spec.sampleEvery, concurrency: 50,
      });
      result.clients = conn.clients;
      result.connectFailed = conn.failed;
      if (conn.firstError) result.connectError = conn.firstError;
      if (conn.clients === 0) throw new Error(`${name}: no client could connect: ${conn.firstError}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const runOnce = async (s: (typeof started)[number], durationMs: number): Promise<StepResult> => {
      const via = spec.megaphoneVia === 'bus' && s.system.busVia ? s.system.busVia : s.system.publishVia;
      const reply = await s.loadgen.run({
        via, ratePerChannel: step.ratePerChannel, durationMs, payloadChars: step.payloadChars, drainMs: step.drainMs,
        stallFraction: 0, serverPid: s.system.pid, sidePids: s.system.sidePids, redisPid: opts.redisPid,
      });
      return stepResult(step, reply);
    };
    // A warm-up round, not recorded: every process has run the step's code paths (JIT, heap sizes,
    // socket buffers) before the first measured round.
    for (const s of started) {
      const r = await runOnce(s, Math.min(step.durationMs, 3000));
      opts.log(`  ${s.name} warm-up: ${r.cpuUsPerDelivery.toFixed(2)} µs/delivery`);
    }
    for (let round = 0; round < rounds; round++) {
      // The order rotates every round, so that no system always runs first (or right after another).
      for (let k = 0; k < started.length; k++) {
        const s = started[(round + k) % started.length]!;
        const r = await runOnce(s, step.durationMs);
        s.runs.push(r);
        opts.log(`  ${s.name} round ${round + 1}: ${r.cpuUsPerDelivery.toFixed(2)} µs/delivery, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ${(r.deliveriesPerFrame ?? 0).toFixed(2)} publications/frame, ${(r.completeness * 100).toFixed(2)}% complete`);
        await new Promise((res) => setTimeout(res, 300));
      }
    }
    for (const s of started) {
      const sorted = [...s.runs].sort((a, b) => a.cpuUsPerDelivery - b.cpuUsPerDelivery);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      const p99s = s.runs.map((r) => r.p99Ms).sort((a, b) => a - b);
      s.result.steps.push({
        ...median,
        p99Ms: p99s[Math.floor(p99s.length / 2)]!,
        label: step.label,
        valid: s.runs.every((r) => r.valid),
        completeness: Math.min(...s.runs.map((r) => r.completeness)),
        rounds: s.runs.map((r) => ({ cpuUsPerDelivery: r.cpuUsPerDelivery, p99Ms: r.p99Ms, ...(r.deliveriesPerFrame !== undefined ? { deliveriesPerFrame: r.deliveriesPerFrame } : {}) })),
      });
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    opts.log(`  ERROR ${message}`);
    for (const s of started) s.result.error ??= message;
  } finally {
    for (const s of started) {
      await s.loadgen.stop();
      await s.system.stop();
    }
  }
  return started.map((s) => s.result);
}
