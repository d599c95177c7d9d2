import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { repoPath } from './paths.js';
import { at, yamlDocuments, type Obj } from './yaml-docs.js';

const require = createRequire(import.meta.url);

export const OVERLAYS = ['dev', 'prod'] as const;

/** `kubectl kustomize <dir>` parsed into objects. */
export function kustomize(dir: string): Obj[] {
  const out = execFileSync('kubectl', ['kustomize', repoPath(dir)], { encoding: 'utf8', timeout: 60_000 });
  return yamlDocuments(out);
}

/** Module holding the model classes of an apiVersion, from kubernetes-models and its CRD packages. */
function modelsModule(apiVersion: string): string {
  if (apiVersion === 'v1') return 'kubernetes-models/v1';
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

/** Validates one object against its Kubernetes API schema; returns the problem or undefined. */
export function schemaProblem(obj: Obj): string | undefined {
  const apiVersion = String(obj.apiVersion);
  const kind = String(obj.kind);
  let mod: Record<string, unknown>;
  try {
    mod = require(modelsModule(apiVersion)) as Record<string, unknown>;
  } catch {
    return `no schema for ${apiVersion}`;
  }
  const Model = mod[kind] as (new (data: Obj) => { validate(): void }) | undefined;
  if (!Model) return `no schema for ${apiVersion} ${kind}`;
  try {
    new Model(obj).validate();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export function named(objects: Obj[], kind: string, name: string): Obj {
  const hit = objects.find((o) => o.kind === kind && at(o, 'metadata', 'name') === name);
  if (!hit) throw new Error(`no ${kind} ${name}`);
  return hit;
}

/** A generated ConfigMap/Secret keeps its name as a prefix plus a hash suffix. */
export function generated(objects: Obj[], kind: string, ref: string): Obj | undefined {
  return objects.find((o) => o.kind === kind && at(o, 'metadata', 'name') === ref);
}

export interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext?: Obj;
  resources?: { requests?: Obj; limits?: Obj };
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
}

export function containersOf(workload: Obj): Container[] {
  return (at(workload, 'spec', 'template', 'spec', 'containers') as Container[] | undefined) ?? [];
}

/** Every environment variable a container gets: `env` plus the keys of its envFrom ConfigMaps/Secrets. */
export function envOf(container: Container, objects: Obj[]): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const ref of container.envFrom ?? []) {
    const kind = ref.configMapRef ? 'ConfigMap' : 'Secret';
    const name = ref.configMapRef?.name ?? ref.secretRef?.name ?? '';
    const source = generated(objects, kind, name);
    if (!source) throw new Error(`envFrom ${kind} ${name} is not in the rendered output`);
    const data = { ...((source.data as Record<string, string> | undefined) ?? {}), ...((source.stringData as Record<string, string> | undefined) ?? {}) };
    for (const [k, v] of Object.entries(data)) out.set(k, kind === 'Secret' ? undefined : v);
  }
  for (const e of container.env ?? []) out.set(e.name, e.value);
  return out;
}

/** Resolves a probe's port (a name or a number) to the container port number. */
export function probePort(container: Container, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}
