import type { Bus } from '@megaphone/bus';
import type { Hub, HubMetrics } from '@megaphone/hub';
import type { ConnectionSet } from './connections.js';
import type { GatewayMetrics, ScrapeSample } from './metrics.js';

/** The `namespace` label of every namespace not in the configuration. */
export const OTHER_NAMESPACE = 'other';

/**
 * The `namespace` label value of a channel's namespace: the configured ones (CHANNEL_NAMESPACES,
 * the default namespace `""` and the producer's `cmd`) as they are, any other as `other`.
 * Clients choose channel names, so a label taken from them as-is would grow without bound.
 */
export function namespaceLabel(configured: Iterable<string>): (namespace: string) => string {
  const known = new Set(['', 'cmd', ...configured]);
  return (namespace) => (known.has(namespace) ? namespace : OTHER_NAMESPACE);
}

/** The hub's plain callbacks, wired to prom-client. */
export function hubMetrics(m: GatewayMetrics, label: (namespace: string) => string): HubMetrics {
  return {
    publicationReceived: (namespace) => m.busPublicationsReceived.inc({ namespace: label(namespace) }),
    delivered: (namespace, count) => m.deliveries.inc({ namespace: label(namespace) }, count),
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
  if (hub === undefined) return { busReady, subscriptions: 0, channels: 0, queuedBytes: 0, pendingMessages: 0, historyReadsInFlight: 0, historyReadsWaiting: 0, perConnectionQueuedBytes: [] };
  const s = hub.stats();
  return {
    busReady,
    subscriptions: s.subscriptions,
    channels: s.channels,
    queuedBytes: s.queuedBytes,
    pendingMessages: s.pendingMessages,
    historyReadsInFlight: s.historyReadsInFlight,
    historyReadsWaiting: s.historyReadsWaiting,
    perConnectionQueuedBytes: connections.snapshot().map((c) => c.queuedBytes()),
  };
}
