import type { SystemName } from './systems.js';

export interface StepResult {
  label: string;
  offeredPerSec: number;
  deliveredPerSec: number;
  expected: number;
  delivered: number;
  completeness: number;
  /** Gateway (or peer) CPU per delivered message, µs. */
  cpuUsPerDelivery: number;
  /** Gateway (or peer) CPU over the step as a fraction of its core. */
  serverCpu: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  latencySamples: number;
  loadgenCpu: number;
  /** Busy fraction of the server core and of the load core over the step (everything running there). */
  serverCoreBusy: number;
  /** CPU of the system's other processes on the load core (Megaphone's producer), fraction of a core. */
  sideCpu: number;
  redisCpu: number;
  /** Load generator + Redis + producer: the benchmark's own use of the load core. */
  loadCoreUsed: number;
  loadCoreBusy: number;
  /** False when the load generator's core was saturated: the numbers measure the load generator. */
  valid: boolean;
  saturated: boolean;
  disorder: number;
  publishErrors: number;
  firstPublishError?: string;
  serverRssStartMiB: number;
  serverRssPeakMiB: number;
  closeCodes: Record<string, number>;
  stalledDelivered: number;
  windowMs: number;
  /**
   * Alternating scenarios only: every measured round's CPU per delivery and p99, in run order
   * (round r of every system ran next to each other, so ratios are best taken round by round).
   */
  rounds?: Array<{ cpuUsPerDelivery: number; p99Ms: number; deliveriesPerFrame?: number }>;
  /**
   * Publications per WebSocket frame the clients received: 1.00 when every publication had its own
   * turn and write, more when several shared one (cheaper per delivery, later on average).
   */
  deliveriesPerFrame?: number;
}

export interface SystemResult {
  system: SystemName;
  clients: number;
  connectFailed: number;
  connectError?: string;
  connectMs: number;
  /** (RSS with every client connected and subscribed − RSS before) / clients, KiB. */
  idleKiBPerConnection: number;
  rssBeforeMiB: number;
  rssConnectedMiB: number;
  steps: StepResult[];
  error?: string;
}

export interface ScenarioResult {
  id: string;
  title: string;
  systems: SystemResult[];
}

export interface TargetCheck {
  target: string;
  met: boolean | undefined;
  detail: string;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  machine: { cpus: string; cores: number; memGiB: number; node: string; kernel: string; loadAvg: number[]; redis: string; note: string };
  scenarios: ScenarioResult[];
  targets: TargetCheck[];
  hubMicro?: { subscribers: number; batch: number; deliveries: number; nsPerDelivery: number; deliveriesPerSecond: number }[];
  /** `--profile`: the gateway's top self time at a low rate and at saturation (1,000 clients). */
  profiles?: { title: string; file: string; top: { fn: string; where: string; selfPct: number }[] }[];
}
