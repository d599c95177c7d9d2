import type { Bus } from '@megaphone/bus';
import type { Logger } from '@megaphone/runtime';
import type { Channel } from './channel.js';
import type { Connection } from './connection.js';
import type { HubMetrics } from './metrics.js';

/** What channels and connections need from their hub (kept narrow so each file stays one idea). */
export interface HubContext {
  readonly bus: Bus;
  readonly metrics: HubMetrics;
  readonly logger: Logger | undefined;
  readonly maxQueueBytes: number;
  readonly maxSubscriptions: number;
  readonly conflate: (channel: string) => boolean;
  readonly now: () => number;
  /** The channel's node-level state; takes the bus subscription on first use. */
  acquire(name: string): Channel;
  /** Called when a channel lost its last subscriber: drops the bus subscription. */
  release(channel: Channel): void;
  /** Queue the connection for this turn's write. */
  markConnDirty(conn: Connection): void;
  /** Queue the channel's batch for this turn's distribution. */
  markChannelDirty(channel: Channel): void;
  lagging(conn: Connection, on: boolean): void;
  subscriptionsChanged(delta: number): void;
  connectionClosed(conn: Connection): void;
}
