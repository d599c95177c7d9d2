import type { BenchReport, ScenarioResult, StepResult, SystemResult } from './results.js';
import { SYSTEM_LABELS, type SystemName } from './systems.js';
import { fmtRate } from './run-scenario.js';

const PEERS: SystemName[] = ['socketio', 'naive', 'floor'];

function row(sys: SystemResult, s: StepResult | undefined): string[] {
  const base = [SYSTEM_LABELS[sys.system]];
  if (!s) return [...base, sys.error ? `error: ${sys.error.slice(0, 60)}` : '—', '', '', '', '', '', '', '', '', `${sys.idleKiBPerConnection.toFixed(1)}`, ''];
  return [
    ...base,
    s.label,
    fmtRate(s.offeredPerSec),
    fmtRate(s.deliveredPerSec),
    `${(s.completeness * 100).toFixed(2)}%`,
    `${(s.serverCpu * 100).toFixed(0)}%`,
    s.cpuUsPerDelivery.toFixed(2),
    s.p50Ms.toFixed(1),
    s.p99Ms.toFixed(1),
    s.p999Ms.toFixed(1),
    sys.idleKiBPerConnection.toFixed(1),
    `${(s.loadgenCpu * 100).toFixed(0)}%`,
    `${(s.loadCoreUsed * 100).toFixed(0)}%${s.valid ? '' : ' INVALID'}`,
  ];
}

const HEAD = ['system', 'step', 'offered/s', 'delivered/s', 'complete', 'cpu', 'µs/deliv', 'p50 ms', 'p99 ms', 'p99.9 ms', 'idle KiB/conn', 'loadgen', 'load core'];

export function scenarioRows(sc: ScenarioResult): string[][] {
  const rows: string[][] = [];
  for (const sys of sc.systems) {
    if (sys.steps.length === 0) rows.push(row(sys, undefined));
    for (const s of sys.steps) rows.push(row(sys, s));
  }
  return rows;
}

/** Megaphone ÷ peer for each step both ran: CPU/delivery, p99, delivered rate. */
export function ratioLines(sc: ScenarioResult): string[] {
  const mp = sc.systems.find((s) => s.system === 'megaphone');
  if (!mp) return [];
  const lines: string[] = [];
  for (const peer of PEERS) {
    const p = sc.systems.find((s) => s.system === peer);
    if (!p) continue;
    const parts: string[] = [];
    for (const s of mp.steps) {
      const q = p.steps.find((x) => x.label === s.label);
      if (!q) {
        parts.push(`${s.label}: peer saturated earlier`);
        continue;
      }
      parts.push(
        `${s.label}: µs/deliv ×${(s.cpuUsPerDelivery / (q.cpuUsPerDelivery || NaN)).toFixed(2)}, p99 ×${(s.p99Ms / (q.p99Ms || NaN)).toFixed(2)}, delivered/s ×${(s.deliveredPerSec / (q.deliveredPerSec || NaN)).toFixed(2)}`,
      );
    }
    if (mp.idleKiBPerConnection > 0 && p.idleKiBPerConnection > 0) parts.push(`idle KiB/conn ×${(mp.idleKiBPerConnection / p.idleKiBPerConnection).toFixed(2)}`);
    lines.push(`Megaphone vs ${SYSTEM_LABELS[peer]}: ${parts.join('; ')}`);
  }
  return lines;
}

function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function mdTable(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const HUB_HEAD = ['subscribers', 'batch/turn', 'deliveries', 'ns/delivery', 'deliveries/s'];
function hubRows(report: BenchReport): string[][] {
  return (report.hubMicro ?? []).map((r) => [String(r.subscribers), String(r.batch), String(r.deliveries), r.nsPerDelivery.toFixed(1), fmtRate(r.deliveriesPerSecond)]);
}

export function renderText(report: BenchReport): string {
  const out: string[] = [];
  for (const sc of report.scenarios) {
    out.push('', `== ${sc.title} [${sc.id}]`, textTable(HEAD, scenarioRows(sc)), ...ratioLines(sc).map((l) => `  ${l}`));
  }
  if (report.hubMicro) {
    out.push('', '== Hub micro-benchmark (no network, no-op sinks)', textTable(HUB_HEAD, hubRows(report)));
  }
  out.push('', '== Targets (issue 5)');
  for (const t of report.targets) out.push(`  [${t.met === undefined ? ' ? ' : t.met ? 'MET' : 'NOT MET'}] ${t.target}: ${t.detail}`);
  for (const prof of report.profiles ?? []) {
    out.push('', `== ${prof.title} (${prof.file}), top self time`);
    for (const p of prof.top) out.push(`  ${p.selfPct.toFixed(1).padStart(5)}%  ${p.fn}  ${p.where}`);
  }
  return out.join('\n');
}

export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [
    `Run ${report.startedAt} → ${report.finishedAt}${report.quick ? ' (--quick)' : ''}. Machine: ${m.cores} × ${m.cpus}, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}, ${m.redis}; load average at start ${m.loadAvg.map((x) => x.toFixed(2)).join(' ')}. ${m.note}`,
  ];
  for (const sc of report.scenarios) {
    out.push('', `### ${sc.title}`, '', mdTable(HEAD, scenarioRows(sc)));
    const ratios = ratioLines(sc);
    if (ratios.length > 0) out.push('', ...ratios.map((l) => `- ${l}`));
  }
  if (report.hubMicro) out.push('', '### Hub micro-benchmark (no network, no-op sinks)', '', mdTable(HUB_HEAD, hubRows(report)));
  out.push('', '### Targets', '', '| target | met | measured |', '|---|---|---|');
  for (const t of report.targets) out.push(`| ${t.target} | ${t.met === undefined ? '?' : t.met ? 'yes' : '**no**'} | ${t.detail} |`);
  for (const prof of report.profiles ?? []) {
    out.push('', `### ${prof.title} (top self time)`, '', '| self % | function | where |', '|--:|---|---|');
    for (const p of prof.top) out.push(`| ${p.selfPct.toFixed(1)} | \`${p.fn}\` | ${p.where} |`);
  }
  return out.join('\n');
}
