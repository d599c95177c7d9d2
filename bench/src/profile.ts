import { readFileSync } from 'node:fs';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** The functions with the most self time in a V8 `.cpuprofile` (what `--cpu-prof` writes). */
export function topSelfTime(file: string, n = 20): { fn: string; where: string; selfPct: number }[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: CpuProfileNode[] };
  const byKey = new Map<string, { fn: string; where: string; hits: number }>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    if (fn === '(idle)') continue;
    const where = url ? `${url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|packages|services)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${fn}@${where}`;
    const e = byKey.get(key) ?? { fn, where, hits: 0 };
    e.hits += hits;
    byKey.set(key, e);
  }
  const idle = profile.nodes.filter((x) => x.callFrame.functionName === '(idle)').reduce((a, x) => a + (x.hitCount ?? 0), 0);
  const busy = Math.max(1, total - idle);
  return [...byKey.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, n)
    .map((e) => ({ fn: e.fn, where: e.where, selfPct: (e.hits * 100) / busy }));
}
