import { pathToFileURL } from 'node:url';
import { repoPath } from './paths.js';

export interface ClusterGateway {
  name: string;
  port: number;
  adminPort: number;
  pid: number;
  url: string;
  metricsUrl: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface LocalCluster {
  url: string;
  wsUrl: string;
  balancer: { kind: 'haproxy' | 'node'; port: number; statsUrl?: string };
  redis: { port: number; url: string; pid: number };
  /** The first producer (`producers[0]`). */
  producer: { port: number; adminPort: number; pid: number; url: string; metricsUrl: string };
  /** Every producer: one leads, the others stand by (SPEC §12). Same shape as a gateway's entry. */
  producers: ClusterGateway[];
  gateways: ClusterGateway[];
  signalGateway(index: number, signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  port?: number;
  gateways?: number;
  producers?: number;
  balancer?: 'auto' | 'haproxy' | 'node';
  env?: Record<string, string>;
  output?: 'prefix' | 'inherit' | 'ignore';
  log?: (line: string) => void;
  startTimeoutMs?: number;
}

interface ClusterModule {
  startCluster(opts: ClusterOptions): Promise<LocalCluster>;
  haproxyConfig(opts: { port: number; statsPort: number; gateways: { name: string; port: number; adminPort: number }[] }): string;
}

/** `scripts/cluster.mjs` (what `npm run cluster` runs), typed. */
export async function loadClusterScript(): Promise<ClusterModule> {
  return (await import(pathToFileURL(repoPath('scripts/cluster.mjs')).href)) as ClusterModule;
}

export async function startLocalCluster(opts: ClusterOptions = {}): Promise<LocalCluster> {
  const { startCluster } = await loadClusterScript();
  return startCluster({ port: 0, output: 'ignore', log: () => {}, ...opts });
}
