import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ERROR_CODES } from '@megaphone/protocol';
import { LATENCY_BUCKETS_SECONDS } from '@megaphone/runtime';
import { WeightedHistogram } from './weighted-histogram.js';

/** Per-connection queued bytes, from idle to far past the default 1 MiB cap. */
export const QUEUE_BYTES_BUCKETS: readonly number[] = [0, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];
export const CONNECTION_STATES = ['live', 'catching_up', 'paused'] as const;
const RESUBSCRIBE_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Publications from history can be as old as history keeps them (1 h by default). */
const REPLAY_LATENCY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * Every metric the gateway exposes (docs/metrics.md describes them). Labels are bounded: transport,
 * close code, error code, outcome, reason and namespace; never channel names or client ids.
 */
export class GatewayMetrics {
  readonly connections: Gauge<'transport'>;
  readonly connectionsOpened: Counter<'transport'>;
  readonly connectionsClosed: Counter<'transport' | 'code'>;
  readonly subscriptions: Gauge;
  readonly channels: Gauge;
  readonly busPublicationsReceived: Counter<'namespace'>;
  readonly deliveries: Counter<'namespace'>;
  readonly framesWritten: Counter;
  readonly bytesWritten: Counter;
  readonly connectionsByQueueBytes: Gauge<'le'>;
  readonly connectionsByState: Gauge<'state'>;
  readonly maxConnectionLag: Gauge;
  readonly presenceReports: Counter;
  readonly presenceResyncs: Counter;
  readonly presencePeers: Gauge;
  readonly presenceReportAge: Gauge;
  readonly outboundQueuedBytes: Gauge;
  readonly hubPendingMessages: Gauge;
  readonly slowConsumerEvents: Counter<'outcome'>;
  readonly droppedMessages: Counter<'reason'>;
  readonly deliveryLatency: WeightedHistogram;
  readonly replayLatency: WeightedHistogram;
  readonly recoveries: Counter<'result'>;
  readonly clientErrors: Counter<'code'>;
  readonly gaps: Counter<'outcome'>;
  readonly epochChanges: Counter;
  readonly draining: Gauge;
  readonly busConnected: Gauge;
  readonly busReconnects: Counter;
  readonly busResubscribeDuration: Histogram;
  readonly socketsDropped: Counter;
  readonly connectionsLimit: Gauge;
  readonly historyReads: Gauge<'state'>;

  constructor(registry: Registry, sample: () => ScrapeSample) {
    const registers = [registry];
    // One sample per scrape feeds the gauges and the histogram below; prom-client calls each
    // metric's collect() in turn, so the first one takes the sample and the others reuse it.
    let current: ScrapeSample | undefined;
    const take = (): ScrapeSample => {
      if (current === undefined) {
        current = sample();
        queueMicrotask(() => (current = undefined));
      }
      return current;
    };

    this.connections = new Gauge({ name: 'megaphone_connections', help: 'Open client connections.', labelNames: ['transport'], registers });
    this.connectionsOpened = new Counter({ name: 'megaphone_connections_opened_total', help: 'Client connections accepted.', labelNames: ['transport'], registers });
    this.connectionsClosed = new Counter({ name: 'megaphone_connections_closed_total', help: 'Client connections closed, by close code (SSE: 1000 client gone, 1001 drain, 4000 slow consumer).', labelNames: ['transport', 'code'], registers });
    this.subscriptions = new Gauge({
      name: 'megaphone_subscriptions',
      help: 'Client subscriptions held by this node.',
      registers,
      collect() {
        this.set(take().subscriptions);
      },
    });
    this.channels = new Gauge({
      name: 'megaphone_channels',
      help: 'Channels this node holds a bus subscription for.',
      registers,
      collect() {
        this.set(take().channels);
      },
    });
    this.busPublicationsReceived = new Counter({ name: 'megaphone_bus_publications_received_total', help: 'Publications received from the bus.', labelNames: ['namespace'], registers });
    this.deliveries = new Counter({ name: 'megaphone_deliveries_total', help: 'Messages handed to client queues.', labelNames: ['namespace'], registers });
    this.framesWritten = new Counter({ name: 'megaphone_frames_written_total', help: 'WebSocket frames / SSE chunks written to client sockets.', registers });
    this.bytesWritten = new Counter({ name: 'megaphone_bytes_written_total', help: 'Payload bytes written to client sockets.', registers });
    // A distribution of the connections open now, not of events: a gauge per bucket, counted
    // afresh at each scrape, so that it does not depend on how often Prometheus scrapes.
    // histogram_quantile() works on it as is (no rate()).
    this.connectionsByQueueBytes = new Gauge({
      name: 'megaphone_connections_by_queue_bytes',
      help: 'Open connections whose queued outbound bytes (hub-pending plus transport-buffered) are at most `le`, counted at scrape.',
      labelNames: ['le'],
      registers,
      collect() {
        const counts = take().queueBuckets;
        QUEUE_BYTES_BUCKETS.forEach((le, i) => this.set({ le: String(le) }, counts[i] ?? 0));
        this.set({ le: '+Inf' }, counts[QUEUE_BYTES_BUCKETS.length] ?? 0);
      },
    });
    this.connectionsByState = new Gauge({
      name: 'megaphone_connections_by_state',
      help: 'Open connections by delivery state at scrape: live, catching_up (a subscription joins or reads history), paused (over its queue cap, waiting to drain).',
      labelNames: ['state'],
      registers,
      collect() {
        const s = take().states;
        for (const state of CONNECTION_STATES) this.set({ state }, s[state]);
      },
    });
    this.maxConnectionLag = new Gauge({
      name: 'megaphone_connection_lag_max',
      help: 'Publications the most-behind subscription of any connection is behind its channel on this node, at scrape.',
      registers,
      collect() {
        this.set(take().maxLag);
      },
    });
    this.presenceReports = new Counter({ name: 'megaphone_presence_reports_sent_total', help: 'Presence reports (subscriber counts) this gateway sent on the bus control channel.', registers });
    this.presenceResyncs = new Counter({ name: 'megaphone_presence_resyncs_total', help: 'Full presence reports asked of another gateway after a lost or unknown report.', registers });
    this.presencePeers = new Gauge({
      name: 'megaphone_presence_peers',
      help: 'Other gateways whose presence reports this gateway holds.',
      registers,
      collect() {
        this.set(take().presencePeers);
      },
    });
    this.presenceReportAge = new Gauge({
      name: 'megaphone_presence_report_age_seconds',
      help: 'Age of the least recent presence report held from another gateway (presence reporting lag; 0 with no peers).',
      registers,
      collect() {
        this.set(take().presenceReportAge);
      },
    });
    this.outboundQueuedBytes = new Gauge({
      name: 'megaphone_outbound_queued_bytes',
      help: 'Total queued outbound bytes over all connections.',
      registers,
      collect() {
        this.set(take().queuedBytes);
      },
    });
    this.hubPendingMessages = new Gauge({
      name: 'megaphone_hub_pending_messages',
      help: 'Messages waiting in the hub for their connection to flush.',
      registers,
      collect() {
        this.set(take().pendingMessages);
      },
    });
    this.slowConsumerEvents = new Counter({ name: 'megaphone_slow_consumer_events_total', help: 'Slow-consumer events by outcome.', labelNames: ['outcome'], registers });
    this.droppedMessages = new Counter({ name: 'megaphone_dropped_messages_total', help: 'Messages not delivered live, by reason (caught up from history later unless counted as a lost gap).', labelNames: ['reason'], registers });
    this.deliveryLatency = new WeightedHistogram({
      name: 'megaphone_delivery_latency_seconds',
      help: 'Publish time to handed to the client socket, one observation per live delivery (publication × subscriber).',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.replayLatency = new WeightedHistogram({
      name: 'megaphone_replay_latency_seconds',
      help: 'Publish time to handed to the client socket, for deliveries from history (history/since at subscribe, slow-consumer catch-up, conflation).',
      buckets: REPLAY_LATENCY_BUCKETS,
      registers,
    });
    this.recoveries = new Counter({ name: 'megaphone_recoveries_total', help: 'Subscriptions with `since`, by result.', labelNames: ['result'], registers });
    this.clientErrors = new Counter({ name: 'megaphone_client_errors_total', help: 'Error replies sent to clients, by code.', labelNames: ['code'], registers });
    this.gaps = new Counter({ name: 'megaphone_gaps_total', help: 'Holes noticed mid-stream, by outcome (filled from history or lost and told).', labelNames: ['outcome'], registers });
    this.epochChanges = new Counter({ name: 'megaphone_epoch_changes_total', help: 'Channel epoch changes noticed (history reset).', registers });
    this.draining = new Gauge({ name: 'megaphone_draining', help: '1 while this gateway drains.', registers });
    this.busConnected = new Gauge({
      name: 'megaphone_bus_connected',
      help: '1 while the bus is connected and holds its subscriptions.',
      registers,
      collect() {
        this.set(take().busReady ? 1 : 0);
      },
    });
    this.busReconnects = new Counter({ name: 'megaphone_bus_reconnects_total', help: 'Bus reconnections (not ready → ready after the first connect).', registers });
    this.busResubscribeDuration = new Histogram({ name: 'megaphone_bus_resubscribe_duration_seconds', help: 'Time from losing the bus to holding every subscription again.', buckets: RESUBSCRIBE_BUCKETS, registers });
    this.historyReads = new Gauge({
      name: 'megaphone_history_reads',
      help: 'History reads against the bus: running (state="in_flight", at most GATEWAY_MAX_HISTORY_READS) and waiting for a slot.',
      labelNames: ['state'],
      registers,
      collect() {
        const s = take();
        this.set({ state: 'in_flight' }, s.historyReadsInFlight);
        this.set({ state: 'waiting' }, s.historyReadsWaiting);
      },
    });
    this.connectionsLimit = new Gauge({ name: 'megaphone_connections_limit', help: 'GATEWAY_MAX_CONNECTIONS: connections beyond it get a 503.', registers });
    this.socketsDropped = new Counter({ name: 'megaphone_sockets_dropped_total', help: 'Sockets closed at accept because the public port held its maximum (GATEWAY_MAX_CONNECTIONS plus room for 503 answers).', registers });

    for (const t of ['ws', 'sse']) {
      this.connections.set({ transport: t }, 0);
      this.connectionsOpened.inc({ transport: t }, 0);
    }
    for (const [transport, code] of [['ws', 1000], ['ws', 1001], ['ws', 1006], ['ws', 4000], ['ws', 4001], ['ws', 4403], ['sse', 1000], ['sse', 1001], ['sse', 4000], ['sse', 4403]] as const) {
      this.connectionsClosed.inc({ transport, code: String(code) }, 0);
    }
    for (const code of ERROR_CODES) this.clientErrors.inc({ code }, 0);
    for (const reason of ['slow_consumer', 'conflated', 'duplicate']) this.droppedMessages.inc({ reason }, 0);
    for (const o of ['lagged', 'caught_up', 'conflated', 'disconnected']) this.slowConsumerEvents.inc({ outcome: o }, 0);
    for (const r of ['recovered', 'not_recovered']) this.recoveries.inc({ result: r }, 0);
    for (const o of ['filled', 'lost']) this.gaps.inc({ outcome: o }, 0);
  }
}

/** What the gateway samples from the hub when Prometheus scrapes. */
export interface ScrapeSample {
  busReady: boolean;
  subscriptions: number;
  channels: number;
  queuedBytes: number;
  pendingMessages: number;
  historyReadsInFlight: number;
  historyReadsWaiting: number;
  /** Cumulative: connections with queued bytes ≤ each of QUEUE_BYTES_BUCKETS, then all of them. */
  queueBuckets: readonly number[];
  states: Record<(typeof CONNECTION_STATES)[number], number>;
  maxLag: number;
  presencePeers: number;
  presenceReportAge: number;
}
