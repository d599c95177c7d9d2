import type { ScenarioResult, StepResult, SystemResult, TargetCheck } from './results.js';
import type { SystemName } from './systems.js';

const KiB_TARGET = 6;

function sys(s: ScenarioResult | undefined, name: SystemName): SystemResult | undefined {
  return s?.systems.find((x) => x.system === name);
}

function step(r: SystemResult | undefined, label: string): StepResult | undefined {
  return r?.steps.find((x) => x.label === label);
}

/** The best delivered rate among valid steps, optionally only those with 100% completeness. */
export function peakDelivered(r: SystemResult | undefined, completeOnly: boolean): StepResult | undefined {
  let best: StepResult | undefined;
  for (const s of r?.steps ?? []) {
    if (!s.valid) continue;
    if (completeOnly && s.completeness < 0.9999) continue;
    if (!best || s.deliveredPerSec > best.deliveredPerSec) best = s;
  }
  return best;
}

/** Megaphone's CPU per delivery ÷ the floor's, round by round (alternating scenarios only). */
export function pairedRatios(mp: StepResult, floor: StepResult): number[] {
  const a = mp.rounds ?? [];
  const b = floor.rounds ?? [];
  const out: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (b[i]!.cpuUsPerDelivery > 0) out.push(a[i]!.cpuUsPerDelivery / b[i]!.cpuUsPerDelivery);
  }
  return out;
}

/** Publications per frame of both, when known: above 1.00 a system's publications shared writes (cheaper, later). */
function framesText(mp: StepResult, floor: StepResult): string {
  if (mp.deliveriesPerFrame === undefined || floor.deliveriesPerFrame === undefined) return '';
  return `; publications per frame ${f2(mp.deliveriesPerFrame)} vs ${f2(floor.deliveriesPerFrame)}`;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);

/** Evaluates issue 5's targets on one run; `undefined` when the run lacks what a target needs. */
export function checkTargets(scenarios: ScenarioResult[], quick: boolean): TargetCheck[] {
  const out: TargetCheck[] = [];
  const byId = (id: string): ScenarioResult | undefined => scenarios.find((s) => s.id === id);

  // Saturation: over the fan-out scenarios, Megaphone's best complete rate vs the peers' best rates.
  const fan = [byId('fanout-1k'), byId('fanout-5k')].filter((s): s is ScenarioResult => s !== undefined);
  if (fan.length > 0) {
    const best = (name: SystemName, complete: boolean): { s: StepResult; scen: ScenarioResult } | undefined => {
      let b: { s: StepResult; scen: ScenarioResult } | undefined;
      for (const scen of fan) {
        const p = peakDelivered(sys(scen, name), complete);
        if (p && (!b || p.deliveredPerSec > b.s.deliveredPerSec)) b = { s: p, scen };
      }
      return b;
    };
    const mp = best('megaphone', true);
    const sio = best('socketio', false);
    const naive = best('naive', false);
    const mpRate = mp?.s.deliveredPerSec ?? 0;
    out.push({
      target: 'Saturation: ≥ 2,000,000 deliveries/s on one gateway core at 100% completeness',
      met: mp ? mpRate >= 2e6 : undefined,
      detail: mp ? `${(mpRate / 1e6).toFixed(2)}M/s (${mp.scen.id}, ${mp.s.label}, gateway core ${(mp.s.serverCpu * 100).toFixed(0)}% busy)` : 'no complete valid step',
    });
    const peerMax = Math.max(sio?.s.deliveredPerSec ?? 0, naive?.s.deliveredPerSec ?? 0);
    out.push({
      target: 'Saturation: ≥ 20× both peers (best delivered rate)',
      met: mp && peerMax > 0 ? mpRate >= 20 * peerMax : undefined,
      detail: `Megaphone ${(mpRate / 1e3).toFixed(0)}k/s; Socket.IO ${((sio?.s.deliveredPerSec ?? 0) / 1e3).toFixed(0)}k/s (×${sio ? f1(mpRate / sio.s.deliveredPerSec) : '?'}); naive ws ${((naive?.s.deliveredPerSec ?? 0) / 1e3).toFixed(0)}k/s (×${naive ? f1(mpRate / naive.s.deliveredPerSec) : '?'})`,
    });
    if (mp) {
      const floorStep = step(sys(mp.scen, 'floor'), mp.s.label);
      const ratio = floorStep && floorStep.cpuUsPerDelivery > 0 ? mp.s.cpuUsPerDelivery / floorStep.cpuUsPerDelivery : undefined;
      out.push({
        target: 'Saturation: CPU per delivery within 1.5× of the floor at that load',
        met: ratio === undefined ? undefined : ratio <= 1.5,
        detail: floorStep ? `${f2(mp.s.cpuUsPerDelivery)} vs floor ${f2(floorStep.cpuUsPerDelivery)} µs (×${f2(ratio ?? 0)}) at ${mp.s.label}` : `floor has no ${mp.s.label} step`,
      });
      // Issue 8: the hub rework may not give back saturation. Before it, the recorded run (11-30,
      // Intel host) read Megaphone's CPU per delivery equal to the floor's at 1, 2 and 3M/s, and
      // its rehearsals ×0.91–×1.12 (the issue quotes that range's best step); the 5% on top is
      // this machine's run-to-run noise at that step. When both servers use the whole core and
      // deliver everything offered, CPU per delivery is the core over the offered rate for both (a
      // server that writes faster batches less rather than delivering more), so the report also
      // gives the cost per written frame (one socket write, however many publications it carries).
      const perFrame = (st: StepResult): number | undefined => (st.deliveriesPerFrame !== undefined ? st.cpuUsPerDelivery * st.deliveriesPerFrame : undefined);
      const mpFrame = perFrame(mp.s);
      const floorFrame = floorStep ? perFrame(floorStep) : undefined;
      const frameText = mpFrame !== undefined && floorFrame !== undefined && floorFrame > 0 && floorStep
        ? `; per written frame ${f2(mpFrame)} vs ${f2(floorFrame)} µs (×${f2(mpFrame / floorFrame)}), publications per frame ${f1(mp.s.deliveriesPerFrame!)} vs ${f1(floorStep.deliveriesPerFrame!)}`
        : '';
      out.push({
        target: "Saturation: CPU per delivery no worse than before the hub rework (the floor's, +5% noise)",
        met: ratio === undefined ? undefined : ratio <= 1.05,
        detail: floorStep
          ? `×${f2(ratio ?? 0)} at ${mp.s.label}${frameText}; gateway cores ${(mp.s.serverCoreBusy * 100).toFixed(0)}% and ${(floorStep.serverCoreBusy * 100).toFixed(0)}% busy`
          : `floor has no ${mp.s.label} step`,
      });
    }
  }

  // Low rate: 1,000 × 50/s; the alternating scenario when it ran (less exposed to drift). Issue 8's
  // targets (≤ 1.0× the floor's CPU, p99 within 10 ms) replace issue 5's (1.1×, 20 ms).
  const low = byId('low-rate-ab') ?? byId('fanout-1k');
  const mpLow = step(sys(low, 'megaphone'), '50 msg/s');
  const floorLow = step(sys(low, 'floor'), '50 msg/s');
  if (mpLow && floorLow) {
    const how = low?.id === 'low-rate-ab' ? ', alternating' : '';
    const paired = pairedRatios(mpLow, floorLow);
    // Round by round when the rounds are known: the two ran seconds apart, under the same load.
    const ratio = paired.length > 0 ? median(paired) : mpLow.cpuUsPerDelivery / floorLow.cpuUsPerDelivery;
    const pairedText = paired.length > 0
      ? `; round by round ×${f2(Math.min(...paired))}–×${f2(Math.max(...paired))}, median ×${f2(ratio)} of ${paired.length}`
      : '';
    out.push({
      target: `Low rate (1,000 × 50/s${how}): CPU per delivery ≤ 1.0× the floor's`,
      met: ratio <= 1.0,
      detail: `medians ${f2(mpLow.cpuUsPerDelivery)} vs ${f2(floorLow.cpuUsPerDelivery)} µs (×${f2(mpLow.cpuUsPerDelivery / floorLow.cpuUsPerDelivery)})${pairedText}${framesText(mpLow, floorLow)}`,
    });
    out.push({
      target: `Low rate (1,000 × 50/s${how}): p99 within 10 ms of the floor's`,
      met: mpLow.p99Ms <= floorLow.p99Ms + 10,
      detail: `${f1(mpLow.p99Ms)} ms vs floor ${f1(floorLow.p99Ms)} ms`,
    });
  }

  const idle = byId('idle');
  const mpIdle = sys(idle, 'megaphone');
  if (mpIdle && mpIdle.clients > 0) {
    out.push({
      target: `Idle memory ≤ ${KiB_TARGET} KiB per connection at ${quick ? mpIdle.clients : '10k'} connections`,
      met: mpIdle.idleKiBPerConnection <= KiB_TARGET,
      detail: `${f1(mpIdle.idleKiBPerConnection)} KiB (${mpIdle.clients} connections; peers: ${idle!.systems
        .filter((x) => x.system !== 'megaphone')
        .map((x) => `${x.system} ${f1(x.idleKiBPerConnection)}`)
        .join(', ')})`,
    });
  }

  const slow = sys(byId('slow-consumers'), 'megaphone');
  const base = step(slow, 'all reading');
  const stalled = step(slow, '5% stalled');
  if (slow && base && stalled) {
    const change = base.p99Ms > 0 ? stalled.p99Ms / base.p99Ms - 1 : 0;
    out.push({
      target: "Slow consumers: healthy clients' p99 moves by less than 10%",
      met: change < 0.1,
      detail: `${f1(base.p99Ms)} → ${f1(stalled.p99Ms)} ms (${change >= 0 ? '+' : ''}${(change * 100).toFixed(0)}%)`,
    });
    const stalledClients = Math.round(slow.clients * 0.05);
    const boundMiB = base.serverRssPeakMiB + stalledClients * 1 + 32;
    out.push({
      target: 'Slow consumers: gateway RSS under a fixed bound',
      met: stalled.serverRssPeakMiB <= boundMiB,
      detail: `peak ${f1(stalled.serverRssPeakMiB)} MiB ≤ bound ${f1(boundMiB)} MiB = healthy-run peak ${f1(base.serverRssPeakMiB)} + ${stalledClients} stalled × 1 MiB queue cap + 32 MiB`,
    });
  }
  return out;
}
