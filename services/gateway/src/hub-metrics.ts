import type { Bus } from '@megaphone/bus';
import type { Hub, HubMetrics } from '@megaphone/hub';
import type { ConnectionSet } from './connections.js';
import type { GatewayMetrics, ScrapeSample } from './metrics.js';

/** The hub's plain callbacks, wired to prom-client. */
export function hubMetrics(m: GatewayMetrics): HubMetrics {
  return {
    publicationReceived: (namespace) => m.busPublicationsReceived.inc({ namespace }),
    delivered: (namespace, count) => m.deliveries.inc({ namespace }, count),
    written: (frames, bytes) => {
      m.framesWritten.inc(frames);
      m.bytesWritten.inc(bytes);
    },
    deliveryLatency: (seconds) => m.deliveryLatency.observe(seconds),
    slowConsumer: (outcome) => m.slowConsumerEvents.inc({ outcome }),
    dropped: (reason, count) => m.droppedMessages.inc({ reason }, count),
    recovery: (result) => m.recoveries.inc({ result }),
    gap: (outcome) => m.gaps.inc({ outcome }),
    epochChanged: () => m.epochChanges.inc(),
    clientError: (code) => m.clientErrors.inc({ code }),
  };
}

/** Read at scrape time: the hub's totals and each connection's queue. */
export function sampleHub(hub: Hub | undefined, bus: Bus | undefined, connections: ConnectionSet): ScrapeSample {
  const busReady = bus?.isReady() ?? false;
  if (hub === undefined) return { busReady, subscriptions: 0, channels: 0, queuedBytes: 0, pendingMessages: 0, perConnectionQueuedBytes: [] };
  const s = hub.stats();
  return {
    busReady,
    subscriptions: s.subscriptions,
    channels: s.channels,
    queuedBytes: s.queuedBytes,
    pendingMessages: s.pendingMessages,
    perConnectionQueuedBytes: connections.snapshot().map((c) => c.queuedBytes()),
  };
}
