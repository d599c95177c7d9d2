import type { Bus, BusHandler } from '@megaphone/bus';
import type { GatewayMetrics } from './metrics.js';

/**
 * The hub owns the bus handler; the gateway also needs the bus's readiness changes (for metrics and
 * logs). The hub gets this view of the bus, whose `setHandler` tees readiness to `onReadiness`.
 */
export function observeBusReadiness(bus: Bus, onReadiness: (ready: boolean) => void): Bus {
  return {
    kind: bus.kind,
    setHandler(handler: BusHandler): void {
      bus.setHandler({
        publication: (pub) => handler.publication(pub),
        ...(handler.resubscribed ? { resubscribed: (channels: readonly string[]) => handler.resubscribed?.(channels) } : {}),
        readiness: (ready) => {
          onReadiness(ready);
          handler.readiness?.(ready);
        },
      });
    },
    publish: (channel, dataJson) => bus.publish(channel, dataJson),
    subscribe: (channel) => bus.subscribe(channel),
    unsubscribe: (channel) => bus.unsubscribe(channel),
    history: (channel, query) => bus.history(channel, query),
    isReady: () => bus.isReady(),
    close: () => bus.close(),
  };
}

/** Tracks bus connectivity into `megaphone_bus_*` metrics and one log line per change. */
export class BusHealth {
  private ready: boolean;
  private lostAt: number | undefined;
  private everReady: boolean;

  constructor(
    bus: Bus,
    private readonly metrics: GatewayMetrics,
    private readonly log: (msg: string, ready: boolean) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.ready = bus.isReady();
    this.everReady = this.ready;
    this.lostAt = this.ready ? undefined : now();
    metrics.busConnected.set(this.ready ? 1 : 0);
  }

  readiness(ready: boolean): void {
    if (ready === this.ready) return;
    this.ready = ready;
    this.metrics.busConnected.set(ready ? 1 : 0);
    if (ready) {
      if (this.everReady) {
        this.metrics.busReconnects.inc();
        if (this.lostAt !== undefined) this.metrics.busResubscribeDuration.observe((this.now() - this.lostAt) / 1000);
      }
      this.everReady = true;
      this.lostAt = undefined;
      this.log('bus ready', true);
    } else {
      this.lostAt = this.now();
      this.log('bus not ready', false);
    }
  }
}
