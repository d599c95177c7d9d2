import type { IncomingMessage } from 'node:http';
import { RedisBus } from '@megaphone/bus';
import { readGatewayConfig, startGateway, type GatewayHandle } from '@megaphone/gateway';
import { createLogger, historyPolicyFor } from '@megaphone/runtime';
import { RedisServer } from '@megaphone/testing';
import { OperatorTestClient } from './operator-clients.js';

/** The hook that gives connections a `sub` without tokens: a header only tests send. */
const identify = (req: IncomingMessage): string | null => (req.headers['x-test-sub'] as string | undefined) ?? null;

export interface OperatorClusterOptions {
  /** ADMIN_TOKEN of both gateways. */
  token: string;
  /** PRESENCE_INTERVAL_MS. */
  intervalMs: number;
}

export interface AdminReply {
  status: number;
  body: unknown;
}

/**
 * SPEC §11 as deployed: two in-process gateways (gw-1, gw-2) on one real redis-server, each with
 * its own RedisBus, a small queue cap (64 KB) and history deep enough to catch a stalled client
 * up, plus a RedisBus of its own to publish with.
 */
export class OperatorCluster {
  private readonly clients: OperatorTestClient[] = [];

  private constructor(
    readonly redis: RedisServer,
    readonly gateways: readonly [GatewayHandle, GatewayHandle],
    readonly publisher: RedisBus,
    private readonly token: string,
  ) {}

  static async start(opts: OperatorClusterOptions): Promise<OperatorCluster> {
    const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', service: 'test', node: 'test' });
    const redis = await RedisServer.start();
    const gateways: GatewayHandle[] = [];
    try {
      for (const name of ['gw-1', 'gw-2']) {
        const config = readGatewayConfig({
          NODE_NAME: name,
          REDIS_URL: redis.url,
          GATEWAY_HOST: '127.0.0.1',
          GATEWAY_PORT: '0',
          GATEWAY_ADMIN_HOST: '127.0.0.1',
          GATEWAY_ADMIN_PORT: '0',
          ADMIN_TOKEN: opts.token,
          PRESENCE_INTERVAL_MS: String(opts.intervalMs),
          GATEWAY_MAX_QUEUE_BYTES: String(64 * 1024),
          HISTORY_SIZE: '5000',
        });
        gateways.push(await startGateway({ config, logger: logger.child({ node: name }), identify }));
      }
      const config = readGatewayConfig({ REDIS_URL: redis.url });
      const publisher = await RedisBus.create(config.bus, { history: historyPolicyFor(config.namespaces), logger });
      return new OperatorCluster(redis, gateways as [GatewayHandle, GatewayHandle], publisher, opts.token);
    } catch (err) {
      for (const gw of gateways) await gw.close();
      await redis.close();
      throw err;
    }
  }

  /** A call to a gateway's operator API with the admin token. */
  async admin(gw: GatewayHandle, method: string, path: string, body?: unknown): Promise<AdminReply> {
    const res = await fetch(`http://127.0.0.1:${gw.adminPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json() };
  }

  /** A WebSocket client of `gw`, as user `sub` when given; terminated by `close()`. */
  async client(gw: GatewayHandle, sub?: string): Promise<OperatorTestClient> {
    const c = await OperatorTestClient.connect(`ws://127.0.0.1:${gw.port}/ws`, sub !== undefined ? { 'x-test-sub': sub } : {});
    this.clients.push(c);
    return c;
  }

  /** `count` publications of about 10 KB: enough to put a stalled client past the 64 KB cap. */
  async flood(channel: string, count: number): Promise<void> {
    const pad = 'x'.repeat(10_000);
    for (let i = 1; i <= count; i++) await this.publisher.publish(channel, JSON.stringify({ i, pad }));
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.terminate();
    for (const gw of this.gateways) await gw.close();
    await this.publisher.close();
    await this.redis.close();
  }
}
