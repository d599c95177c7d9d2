import type { Bus } from '@megaphone/bus';
import type { Hub, HubMetrics } from '@megaphone/hub';
import type { ConnectionSet } from './connections/connections.js';
import { QUEUE_BYTES_BUCKETS, type GatewayMetrics, type ScrapeSample } from './metrics.js';
import type { ClusterPresence } from './operator/presence.js';

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
    deliveryLatency: (seconds, count) => m.deliveryLatency.observeMany(seconds, count),
    replayLatency: (seconds, count) => m.replayLatency.observeMany(seconds, count),
    slowConsumer: (outcome) => m.slowConsumerEvents.inc({ outcome }),
    dropped: (reason, count) => m.droppedMessages.inc({ reason }, count),
    recovery: (result) => m.recoveries.inc({ result }),
    gap: (outcome) => m.gaps.inc({ outcome }),
    epochChanged: () => m.epochChanges.inc(),
    clientError: (code) => m.clientErrors.inc({ code }),
  };
}

/** Read at scrape time: the hub's totals, each connection's queue, state and lag, presence. */
export function sampleHub(hub: Hub | undefined, bus: Bus | undefined, connections: ConnectionSet, presence: ClusterPresence | undefined): ScrapeSample {
  const busReady = bus?.isReady() ?? false;
  const queueBuckets = new Array<number>(QUEUE_BYTES_BUCKETS.length + 1).fill(0);
  const states = { live: 0, catching_up: 0, paused: 0 };
  const presencePeers = presence?.peerCount() ?? 0;
  const presenceReportAge = presence?.reportAgeSeconds() ?? 0;
  if (hub === undefined) return { busReady, subscriptions: 0, channels: 0, queuedBytes: 0, pendingMessages: 0, historyReadsInFlight: 0, historyReadsWaiting: 0, queueBuckets, states, maxLag: 0, presencePeers, presenceReportAge };
  let maxLag = 0;
  for (const c of connections.values()) {
    const bytes = c.conn.queuedBytes();
    // Buckets are cumulative: the first that holds it and every one after.
    let i = 0;
    while (i < QUEUE_BYTES_BUCKETS.length && bytes > QUEUE_BYTES_BUCKETS[i]!) i++;
    queueBuckets[i]!++;
    states[c.conn.state()]++;
    const lag = c.conn.maxLag();
    if (lag > maxLag) maxLag = lag;
  }
  for (let i = 1; i < queueBuckets.length; i++) queueBuckets[i]! += queueBuckets[i - 1]!;
  const s = hub.stats();
  return {
    busReady,
    subscriptions: s.subscriptions,
    channels: s.channels,
    queuedBytes: s.queuedBytes,
    pendingMessages: s.pendingMessages,
    historyReadsInFlight: s.historyReadsInFlight,
    historyReadsWaiting: s.historyReadsWaiting,
    queueBuckets,
    states,
    maxLag,
    presencePeers,
    presenceReportAge,
  };
}
