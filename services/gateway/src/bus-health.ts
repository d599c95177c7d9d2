import type { Bus, BusHandler, BusMetrics } from '@megaphone/bus';
import type { GatewayMetrics } from './metrics.js';

/** The bus's own callbacks (a bus the gateway creates), wired to `megaphone_bus_*`. */
export function busMetrics(m: GatewayMetrics): BusMetrics {
  return {
    connected: (up) => m.busConnected.set(up ? 1 : 0),
    reconnected: () => m.busReconnects.inc(),
    resubscribed: (seconds) => m.busResubscribeDuration.observe(seconds),
  };
}

/**
 * A bus handed in by the caller was created without the gateway's metric callbacks, so the
 * gateway derives reconnects and time-to-ready from the readiness changes the bus reports to its
 * handler. The hub owns that handler: the hub gets this view of the bus, whose `setHandler` tees
 * readiness to `onReadiness`.
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
    publishControl: (message) => bus.publishControl(message),
    listenControl: (listener) => bus.listenControl(listener),
    isReady: () => bus.isReady(),
    close: () => bus.close(),
  };
}

/** Readiness changes → `megaphone_bus_reconnects_total` and the resubscribe-duration histogram. */
export class ReadinessTracker {
  private ready: boolean;
  private everReady: boolean;
  private lostAt: number | undefined;

  constructor(
    initiallyReady: boolean,
    private readonly metrics: BusMetrics,
    private readonly now: () => number = Date.now,
  ) {
    this.ready = initiallyReady;
    this.everReady = initiallyReady;
    this.lostAt = initiallyReady ? undefined : now();
  }

  readiness(ready: boolean): void {
    if (ready === this.ready) return;
    this.ready = ready;
    this.metrics.connected?.(ready);
    if (!ready) {
      this.lostAt = this.now();
      return;
    }
    if (this.everReady) {
      this.metrics.reconnected?.();
      if (this.lostAt !== undefined) this.metrics.resubscribed?.((this.now() - this.lostAt) / 1000, 0);
    }
    this.everReady = true;
    this.lostAt = undefined;
  }
}
