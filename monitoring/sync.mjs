#!/usr/bin/env node
// monitoring/ is the one source of the Grafana dashboards and the Prometheus alert rules.
// docker-compose.yml mounts them from here; Kubernetes needs copies inside its kustomize tree
// (kustomize cannot load files from outside it), which this script writes:
//   node monitoring/sync.mjs          write k8s/components/monitoring/{prometheusrule.yaml,dashboards/}
//   node monitoring/sync.mjs --check  exit 1 and name the stale files when a copy differs
import { readFileSync, writeFileSync, readdirSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const dashboardsDir = join(root, 'monitoring/grafana/dashboards');
const rulesFile = join(root, 'monitoring/prometheus/alerts.yml');
const componentDir = join(root, 'k8s/components/monitoring');

/** Every generated file: path relative to the root → content. */
export function renderCopies() {
  const out = new Map();
  for (const name of readdirSync(dashboardsDir).filter((n) => n.endsWith('.json')).sort()) {
    out.set(`k8s/components/monitoring/dashboards/${name}`, readFileSync(join(dashboardsDir, name), 'utf8'));
  }
  const rules = parse(readFileSync(rulesFile, 'utf8'));
  const resource = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'megaphone',
      // kube-prometheus-stack selects rules by its release label; change it to match yours.
      labels: { release: 'prometheus' },
    },
    spec: { groups: rules.groups },
  };
  const header = '# GENERATED from monitoring/prometheus/alerts.yml by `node monitoring/sync.mjs`. Do not edit.\n';
  out.set('k8s/components/monitoring/prometheusrule.yaml', header + stringify(resource, { lineWidth: 0 }));
  return out;
}

function main() {
  const check = process.argv.includes('--check');
  const copies = renderCopies();
  const stale = [];
  for (const [rel, content] of copies) {
    const path = join(root, rel);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (current === content) continue;
    stale.push(rel);
    if (!check) {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, content);
    }
  }
  const extra = readdirSync(join(componentDir, 'dashboards')).map((n) => `k8s/components/monitoring/dashboards/${n}`).filter((rel) => !copies.has(rel));
  if (check) {
    if (stale.length > 0 || extra.length > 0) {
      console.error(`monitoring copies are stale, run \`node monitoring/sync.mjs\`:\n${[...stale, ...extra.map((e) => `${e} (no source)`)].map((s) => `  ${s}`).join('\n')}`);
      process.exit(1);
    }
    console.log('monitoring copies are up to date');
  } else {
    console.log(stale.length > 0 ? `wrote ${stale.join(', ')}` : 'monitoring copies are up to date');
    if (extra.length > 0) console.warn(`not generated from monitoring/ (remove them): ${extra.join(', ')}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
