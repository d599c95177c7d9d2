import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BusUnavailableError, type Bus } from '@megaphone/bus';
import type { Hub } from '@megaphone/hub';
import type { Logger } from '@megaphone/runtime';
import type { ConnectionSet } from '../connections/connections.js';
import type { GatewayMetrics } from '../metrics.js';
import { ApiError, adminRoutes } from './admin-api.js';
import { decodeControl, encodeControl, type ControlMessage } from './control.js';
import { ClusterPresence } from './presence.js';

export interface OperatorOptions {
  bus: Bus;
  hub: Hub;
  connections: ConnectionSet;
  node: string;
  adminToken: string | undefined;
  presenceIntervalMs: number;
  logger: Logger;
  metrics: GatewayMetrics;
}

/** How long to wait before trying the control subscription again when the bus was not ready. */
const LISTEN_RETRY_MS = 1000;

/**
 * What operators see and steer on one gateway (SPEC §11): the control channel's router, the
 * cluster presence table and the admin API routes. Started after the hub, stopped before it.
 */
export class Operator {
  readonly presence: ClusterPresence;
  readonly routes: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;
  /** This process, so that it can tell its own control messages from a namesake's. */
  private readonly boot = randomBytes(6).toString('base64url');
  private stopListening: (() => void) | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private listenFailures = 0;

  constructor(private readonly opts: OperatorOptions) {
    const { hub, metrics } = opts;
    this.presence = new ClusterPresence({
      bus: opts.bus,
      node: opts.node,
      boot: this.boot,
      intervalMs: opts.presenceIntervalMs,
      local: () => hub.channelSubscribers(),
      localOf: (channel) => hub.subscribersOf(channel),
      logger: opts.logger,
      metrics: { reportSent: () => metrics.presenceReports.inc(), resync: () => metrics.presenceResyncs.inc() },
    });
    this.routes = adminRoutes({
      token: opts.adminToken,
      connections: opts.connections,
      presence: this.presence,
      disconnectSub: (sub) => this.disconnectSub(sub),
      logger: opts.logger,
    });
  }

  start(): void {
    this.presence.start();
    void this.listen();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.presence.stop();
    this.stopListening?.();
  }

  /** Takes the control subscription, trying again every second while the bus is not ready. */
  private async listen(): Promise<void> {
    try {
      const stop = await this.opts.bus.listenControl((text) => this.onControl(text));
      if (this.stopped) stop();
      else this.stopListening = stop;
    } catch (err) {
      if (this.stopped) return;
      // Once at warn: while Redis is down this retries every second.
      const level = this.listenFailures++ === 0 ? 'warn' : 'debug';
      this.opts.logger[level]({ err: (err as Error).message }, 'could not listen on the bus control channel; retrying');
      this.retry = setTimeout(() => void this.listen(), LISTEN_RETRY_MS);
      this.retry.unref();
    }
  }

  private onControl(text: string): void {
    const msg = decodeControl(text);
    if (msg === undefined) return;
    if (msg.t === 'disconnect') {
      if (msg.from === this.opts.node && msg.boot === this.boot) return;
      const closed = this.closeSub(msg.sub);
      if (closed > 0) this.opts.logger.info({ sub: msg.sub, closed, from: msg.from }, 'connections closed by an operator (cluster-wide)');
      return;
    }
    this.presence.receive(msg);
  }

  /** Closes this node's connections of `sub` with 4403. */
  closeSub(sub: string): number {
    let closed = 0;
    for (const c of this.opts.connections.values()) {
      if (c.sub !== sub) continue;
      c.closeByOperator();
      closed++;
    }
    return closed;
  }

  /** This node's connections now, every other gateway's through the bus (at most once, like all control messages). */
  private async disconnectSub(sub: string): Promise<number> {
    const closed = this.closeSub(sub);
    this.opts.logger.info({ sub, closed }, 'connections closed by an operator; telling the cluster');
    const msg: ControlMessage = { t: 'disconnect', sub, from: this.opts.node, boot: this.boot };
    try {
      await this.opts.bus.publishControl(encodeControl(msg));
    } catch (err) {
      if (err instanceof BusUnavailableError) throw new ApiError('unavailable', `closed ${closed} connection(s) here, but the bus is unavailable: other gateways were not told; try again`);
      throw err;
    }
    return closed;
  }
}
