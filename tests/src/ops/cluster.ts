import { GATEWAY_BIN, GATEWAY_NODE_FLAGS } from '@megaphone/gateway';
import { PRODUCER_BIN } from '@megaphone/producer';
import { startTopology, type BalancerInfo } from '@megaphone/testing';

export interface ClusterGateway {
  name: string;
  port: number;
  adminPort: number;
  pid: number;
  url: string;
  metricsUrl: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** What `npm run cluster` starts (the same launcher, @megaphone/testing's startTopology), as the ops tests see it. */
export interface LocalCluster {
  url: string;
  wsUrl: string;
  balancer: BalancerInfo;
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
  startTimeoutMs?: number;
}

export async function startLocalCluster(opts: ClusterOptions = {}): Promise<LocalCluster> {
  const t = await startTopology({
    bins: { gatewayBin: GATEWAY_BIN, gatewayNodeFlags: GATEWAY_NODE_FLAGS, producerBin: PRODUCER_BIN },
    gateways: opts.gateways ?? 3,
    // Two producers, as `npm run cluster` starts: one leads, the other stands by (SPEC §12).
    producers: opts.producers ?? 2,
    producerName: (i) => (i === 0 ? 'producer' : `producer-${i + 1}`),
    balancer: opts.balancer ?? 'auto',
    port: opts.port ?? 0,
    env: { LOG_LEVEL: 'warn', ...opts.env },
    // Every test client connects from loopback, hundreds at once (ops-drain): lift the per-address limits.
    gatewayEnv: { GATEWAY_DRAIN_MS: '2000', GATEWAY_MAX_CONNECTIONS_PER_IP: '100000', GATEWAY_CONNECTS_PER_IP_PER_SECOND: '100000', ...opts.env },
    ...(opts.startTimeoutMs !== undefined ? { startTimeoutMs: opts.startTimeoutMs } : {}),
  });
  const server = t.redis.server!;
  const producer = t.producers[0]!;
  const balancer = t.balancer!;
  return {
    url: balancer.url,
    wsUrl: balancer.wsUrl,
    balancer,
    redis: { port: server.port, url: server.url, pid: server.pid! },
    producer: { port: producer.port, adminPort: producer.adminPort, pid: producer.pid, url: producer.httpUrl, metricsUrl: `${producer.adminUrl}/metrics` },
    producers: t.producers.map((p) => ({ name: p.name, port: p.port, adminPort: p.adminPort, pid: p.pid, url: p.httpUrl, metricsUrl: `${p.adminUrl}/metrics`, exited: p.exited! })),
    gateways: t.gateways.map((g) => ({ name: g.name, port: g.port, adminPort: g.adminPort, pid: g.pid, url: g.httpUrl, metricsUrl: `${g.adminUrl}/metrics`, exited: g.exited! })),
    signalGateway: (index, signal = 'SIGTERM') => {
      const g = t.gateways[index];
      if (g === undefined) throw new Error(`no gateway ${index}`);
      g.signal(signal);
      return g.exited!;
    },
    stop: () => t.stop(),
  };
}
