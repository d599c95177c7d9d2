/**
 * Plain callbacks a bus calls so a service can keep `megaphone_bus_*` metrics without the bus
 * depending on a metrics library: `megaphone_bus_connected` (gauge), `megaphone_bus_reconnects_total`,
 * `megaphone_bus_resubscribe_duration_seconds` (histogram).
 */
export interface BusMetrics {
  /** The bus became ready (connected and subscribed) or stopped being ready. */
  connected?(up: boolean): void;
  /** One Redis connection (command or subscriber) came back after a loss. */
  reconnected?(): void;
  /** A subscriber connection took this long to take all its channels again after a reconnect. */
  resubscribed?(seconds: number, channels: number): void;
}
