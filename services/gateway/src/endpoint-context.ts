import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Hub } from '@megaphone/hub';
import type { Logger } from '@megaphone/runtime';
import type { GatewayConfig } from './config.js';
import type { ClientConnection, ConnectionSet } from './connections.js';
import type { GatewayMetrics } from './metrics.js';

/** What the WebSocket and SSE endpoints share: the hub, the connection set and the admission rules. */
export class EndpointContext {
  draining = false;

  constructor(
    readonly config: GatewayConfig,
    readonly hub: Hub,
    readonly metrics: GatewayMetrics,
    readonly logger: Logger,
    readonly connections: ConnectionSet,
    /** Cluster-wide subscribers of a channel (the `presence` command). */
    readonly presence: (channel: string) => number,
    /** The `sub` of a new connection, from its request (StartGatewayOptions.identify). */
    readonly identify: (req: IncomingMessage) => string | null,
  ) {}

  /** Why a new client must be turned away with a 503, if it must. */
  unavailable(): string | undefined {
    if (this.draining) return 'this gateway is draining';
    if (this.connections.size >= this.config.maxConnections) return 'this gateway is full';
    return undefined;
  }

  newSession(): string {
    return randomBytes(12).toString('base64url');
  }

  opened(client: ClientConnection): void {
    this.connections.add(client);
    this.metrics.connectionsOpened.inc({ transport: client.transport });
    this.metrics.connections.inc({ transport: client.transport });
  }

  readonly gone = (client: ClientConnection): void => {
    this.connections.delete(client);
    this.metrics.connections.dec({ transport: client.transport });
  };
}
