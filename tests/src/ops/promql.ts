import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoPath } from './paths.js';

export interface NamedExpr {
  where: string;
  expr: string;
}

/** Every PromQL expression in the dashboards (panel targets, template variable queries). */
export function dashboardExprs(dir = repoPath('monitoring/grafana/dashboards')): NamedExpr[] {
  const out: NamedExpr[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { panels?: Panel[]; templating?: { list?: { name: string; query?: unknown }[] } };
    for (const panel of flattenPanels(dash.panels ?? [])) {
      for (const t of panel.targets ?? []) if (t.expr) out.push({ where: `${file}: ${panel.title}`, expr: t.expr });
    }
    for (const v of dash.templating?.list ?? []) {
      const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
      // label_values(metric, label): only the metric is PromQL.
      const lv = q ? /^label_values\(\s*([^,]+),/.exec(q) : null;
      if (lv) out.push({ where: `${file}: variable ${v.name}`, expr: lv[1]! });
      else if (q && q.includes('(')) out.push({ where: `${file}: variable ${v.name}`, expr: q });
    }
  }
  return out;
}

interface Panel {
  title: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

function flattenPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...flattenPanels(p.panels ?? [])]);
}

export interface AlertRule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function alertRules(file = repoPath('monitoring/prometheus/alerts.yml')): AlertRule[] {
  const doc = parse(readFileSync(file, 'utf8')) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

/**
 * Metric names an expression reads: identifiers that are not functions, keywords, label names or
 * strings. Good enough for the expressions in this repository (checked against the real /metrics).
 */
export function metricNamesIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const withoutMatchers = withoutStrings.replace(/\{[^}]*\}/g, '{}');
  const withoutGrouping = withoutMatchers.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const withoutRanges = withoutGrouping.replace(/\[[^\]]*\]/g, '[]');
  const names = new Set<string>();
  const re = /\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g;
  for (let m = re.exec(withoutRanges); m; m = re.exec(withoutRanges)) {
    const [, name, call] = m;
    if (call || KEYWORDS.has(name!) || /^\d/.test(name!)) continue;
    // Grafana's $__rate_interval and friends are gone with the ranges; `$node` in matchers too.
    names.add(name!);
  }
  return [...names];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'le', 'inf', 'nan', 'Inf', 'NaN']);

/**
 * A dashboard expression as Prometheus gets it from Grafana: `$__rate_interval` (at least four
 * scrape intervals; `rangeInterval` here) and the `$node` variable set to All (its `allValue`).
 */
export function asPromQL(expr: string, rangeInterval = '15s'): string {
  return expr.replace(/\$__rate_interval/g, rangeInterval).replace(/\$node\b/g, '.*');
}

/**
 * What an alert compares against its threshold: the left side of its last top-level comparison,
 * in the first branch of a top-level `or` (`a > 1 or absent(b)` → `a`). Healthy, the alert itself
 * returns nothing; this part must still return data, or the alert could never fire.
 */
export function thresholdOperand(expr: string): string {
  const first = splitTopLevel(expr, /^\s+or\s+/)[0]!;
  let depth = 0;
  let cut = -1;
  for (let i = 0; i < first.length; i++) {
    const c = first[i]!;
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (c === '"') i = first.indexOf('"', i + 1);
    else if (depth === 0 && /^(==|!=|>=|<=|>|<)/.test(first.slice(i)) && first[i - 1] !== '=' && first[i - 1] !== '!') {
      cut = i;
      break;
    }
  }
  return (cut < 0 ? first : first.slice(0, cut)).trim();
}

function splitTopLevel(expr: string, sep: RegExp): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (c === '"') i = expr.indexOf('"', i + 1);
    else if (depth === 0) {
      const m = sep.exec(expr.slice(i));
      if (m !== null && /\s/.test(c)) {
        parts.push(expr.slice(start, i));
        start = i + m[0].length;
        i = start - 1;
      }
    }
  }
  parts.push(expr.slice(start));
  return parts;
}
