import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { hostAllowed, type TokenVerifier } from '@megaphone/auth';
import type { Hub } from '@megaphone/hub';
import type { Logger } from '@megaphone/runtime';
import { AddressLimits, type Admission } from './address-limits.js';
import { ClientAddresses, limitKey } from '../http/client-address.js';
import type { GatewayConfig } from '../config.js';
import type { ClientConnection, ConnectionSet } from './connections.js';
import { ExpiryQueue } from './expiry-queue.js';
import type { GatewayMetrics } from '../metrics.js';

/** What the WebSocket and SSE endpoints share: the hub, the connection set and the admission rules. */
export class EndpointContext {
  draining = false;
  readonly addresses: ClientAddresses;
  readonly limits: AddressLimits;
  /** When each connection's token stops being accepted: one timer for all of them. */
  readonly expiries: ExpiryQueue<ClientConnection>;

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
    readonly verifier: TokenVerifier,
  ) {
    this.addresses = new ClientAddresses(config.trustedProxies);
    this.limits = new AddressLimits({ maxConnections: config.maxConnectionsPerIp, connectsPerSecond: config.connectsPerIpPerSecond });
    this.expiries = new ExpiryQueue((client) => client.tokenExpired());
  }

  /** Why a new client must be turned away with a 503, if it must. */
  unavailable(): string | undefined {
    if (this.draining) return 'this gateway is draining';
    if (this.connections.size >= this.config.maxConnections) return 'this gateway is full';
    return undefined;
  }

  /** The `Host` check of every request on the public port (DNS rebinding). */
  hostAllowed(req: IncomingMessage): boolean {
    return hostAllowed(this.config.allowedHosts, req.headers.host);
  }

  /**
   * Takes a per-address connection slot for the request's client (SPEC §10 limits), or says why
   * not (a 429). The slot is the connection's `address`, given back when it is gone.
   */
  admitAddress(req: IncomingMessage): { key: string; admission: Admission } {
    const key = limitKey(this.addresses.of(req));
    const admission = this.limits.admit(key);
    if (!admission.ok) this.metrics.clientErrors.inc({ code: 'too_many_requests' });
    return { key, admission };
  }

  newSession(): string {
    return randomBytes(12).toString('base64url');
  }

  opened(client: ClientConnection): void {
    this.connections.add(client);
    this.metrics.connectionsOpened.inc({ transport: client.transport });
    this.metrics.connections.inc({ transport: client.transport });
    const p = client.principal;
    if (p !== undefined) this.tokenChanged(client, p.validUntil);
  }

  /** Schedules (or moves) the close of `client` at its token's deadline. */
  tokenChanged(client: ClientConnection, validUntil: number): void {
    if (client.expiry === undefined) client.expiry = this.expiries.add(client, validUntil);
    else this.expiries.move(client.expiry, validUntil);
  }

  readonly gone = (client: ClientConnection): void => {
    this.connections.delete(client);
    this.metrics.connections.dec({ transport: client.transport });
    this.limits.release(client.address);
    if (client.expiry !== undefined) this.expiries.remove(client.expiry);
    client.expiry = undefined;
  };
}
