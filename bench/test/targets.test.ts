import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alternatingChannels, checkTargets, scenarios, peakDelivered, renderText, type ScenarioResult, type StepResult, type SystemResult, type BenchReport } from '../src/index.js';
import type { SystemName } from '../src/index.js';

function step(label: string, deliveredPerSec: number, cpuUsPerDelivery: number, p99Ms: number, over: Partial<StepResult> = {}): StepResult {
  return {
    label, offeredPerSec: deliveredPerSec, deliveredPerSec, expected: 100, delivered: 100, completeness: 1, cpuUsPerDelivery,
    serverCpu: 0.5, p50Ms: p99Ms / 2, p99Ms, p999Ms: p99Ms, maxMs: p99Ms, latencySamples: 100, loadgenCpu: 0.5, serverCoreBusy: 1,
    sideCpu: 0, redisCpu: 0, loadCoreUsed: 0.5, loadCoreBusy: 1, valid: true, saturated: false, disorder: 0, publishErrors: 0,
    serverRssStartMiB: 50, serverRssPeakMiB: 60, closeCodes: {}, stalledDelivered: 0, windowMs: 1000, ...over,
  };
}

function sys(system: SystemName, steps: StepResult[], idleKiB = 5): SystemResult {
  return { system, clients: 1000, connectFailed: 0, connectMs: 1, idleKiBPerConnection: idleKiB, rssBeforeMiB: 40, rssConnectedMiB: 50, steps };
}

const fanout: ScenarioResult = {
  id: 'fanout-1k', title: 'fan-out', systems: [
    sys('megaphone', [step('50 msg/s', 5e4, 8, 30), step('3000 msg/s', 3e6, 0.3, 80)]),
    sys('socketio', [step('50 msg/s', 5e4, 15, 130), step('200 msg/s', 1e5, 9, 6000, { completeness: 0.7, saturated: true })]),
    sys('naive', [step('50 msg/s', 5e4, 10, 100), step('200 msg/s', 9e4, 9, 6000, { completeness: 0.6, saturated: true })]),
    sys('floor', [step('50 msg/s', 5e4, 7.5, 20), step('3000 msg/s', 3e6, 0.25, 50)]),
  ],
};

test('saturation targets compare the best complete Megaphone step with the peers and the floor', () => {
  const t = checkTargets([fanout], false);
  const met = (part: string): boolean | undefined => t.find((x) => x.target.includes(part))?.met;
  assert.equal(met('2,000,000'), true);
  assert.equal(met('20×'), true); // 3M vs 100k and 90k
  assert.equal(met('1.5×'), true); // 0.3 vs 0.25 µs
  assert.equal(met('before the hub rework'), false); // ×1.2 > ×1.05
  assert.equal(met('≤ 1.0×'), false); // 8 vs 7.5 µs
  assert.equal(met('within 10 ms'), true); // 30 ms ≤ 20 + 10 ms
});

test('the rework target reads CPU per delivery against the floor, and reports the cost per written frame', () => {
  // Both deliver all 3M/s on a full core (0.33 µs each); Megaphone needs 20 publications per frame
  // where the floor needs 23: ×0.87 per write.
  const sat = (mpUs: number): ScenarioResult => ({
    id: 'fanout-5k', title: 'fan-out', systems: [
      sys('megaphone', [step('600 msg/s', 3e6, mpUs, 80, { deliveriesPerFrame: 20, serverCoreBusy: 0.99 })]),
      sys('floor', [step('600 msg/s', 3e6, 0.33, 80, { deliveriesPerFrame: 23, serverCoreBusy: 0.98 })]),
    ],
  });
  const equal = checkTargets([sat(0.33)], false).find((x) => x.target.includes('before the hub rework'))!;
  assert.equal(equal.met, true);
  assert.match(equal.detail, /^×1\.00 at 600 msg\/s; per written frame 6\.60 vs 7\.59 µs \(×0\.87\), publications per frame 20\.0 vs 23\.0; gateway cores 99% and 98% busy$/);
  assert.equal(checkTargets([sat(0.35)], false).find((x) => x.target.includes('before the hub rework'))!.met, false); // ×1.06
});

test('low-rate targets are met at or below the floor CPU and within 10 ms of its p99', () => {
  const fast: ScenarioResult = {
    ...fanout,
    systems: fanout.systems.map((s) => (s.system === 'megaphone' ? sys('megaphone', [step('50 msg/s', 5e4, 7.5, 29.5), step('3000 msg/s', 3e6, 0.3, 80)]) : s)),
  };
  const t = checkTargets([fast], false);
  const met = (part: string): boolean | undefined => t.find((x) => x.target.includes(part))?.met;
  assert.equal(met('≤ 1.0×'), true);
  assert.equal(met('within 10 ms'), true);
});

test('with rounds recorded, the low-rate CPU target is the median of round-by-round ratios', () => {
  const rounds = (xs: number[]): StepResult['rounds'] => xs.map((cpuUsPerDelivery) => ({ cpuUsPerDelivery, p99Ms: 10 }));
  // Medians alone (10 vs 9.5) say ×1.05; round by round Megaphone was cheaper in 3 of 5 rounds.
  const ab = (mp: number[], floor: number[]): ScenarioResult => ({
    id: 'low-rate-ab', title: 'ab', systems: [
      sys('megaphone', [step('50 msg/s', 5e4, 10, 10, { rounds: rounds(mp) })]),
      sys('floor', [step('50 msg/s', 5e4, 9.5, 10, { rounds: rounds(floor) })]),
    ],
  });
  const cheaper = checkTargets([ab([9, 10, 8, 12, 10], [9.5, 10.5, 8.5, 11, 9])], false).find((x) => x.target.includes('≤ 1.0×'))!;
  assert.equal(cheaper.met, true);
  assert.match(cheaper.detail, /round by round ×0\.9\d–×1\.11, median ×0\.95 of 5/);
  const dearer = checkTargets([ab([10, 11, 9, 12, 10], [9.5, 10.5, 8.5, 11, 9])], false).find((x) => x.target.includes('≤ 1.0×'))!;
  assert.equal(dearer.met, false);
});

test('an invalid step never counts as the peak', () => {
  const r = sys('megaphone', [step('a', 1e6, 1, 10), step('b', 5e6, 1, 10, { valid: false })]);
  assert.equal(peakDelivered(r, true)?.label, 'a');
});

test('the text report names every system and flags invalid steps', () => {
  const report: BenchReport = {
    startedAt: 'a', finishedAt: 'b', quick: true, scenarios: [{ ...fanout, systems: [sys('floor', [step('x', 1, 1, 1, { valid: false })])] }], targets: [],
    machine: { cpus: 'c', cores: 2, memGiB: 1, node: 'v20', kernel: 'k', loadAvg: [0, 0, 0], redis: 'r', note: '' },
  };
  const text = renderText(report);
  assert.match(text, /floor/);
  assert.match(text, /INVALID/);
});

test('systems up at once that share plain Redis channel names each get channels of their own', () => {
  const spec = scenarios(false).find((x) => x.id === 'low-rate-ab')!;
  const plain = { kind: 'redis-plain' };
  const floor = alternatingChannels(spec, { name: 'floor', publishVia: plain });
  const naive = alternatingChannels(spec, { name: 'naive', publishVia: plain });
  assert.deepEqual(floor, ['bench.floor']);
  assert.deepEqual(naive, ['bench.naive']);
  // Megaphone's and Socket.IO's publications are in their own formats: the scenario's name stays.
  assert.deepEqual(alternatingChannels(spec, { name: 'megaphone', publishVia: { kind: 'bus' } }), ['bench']);
  assert.deepEqual(alternatingChannels(spec, { name: 'socketio', publishVia: { kind: 'redis-socketio' } }), ['bench']);
});
