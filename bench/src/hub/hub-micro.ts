/**
 * Hub micro-benchmark: the hub alone, no network. N subscribers on one channel (and one
 * many-channel row) with no-op sinks; a bus stub pushes pre-encoded publications straight into
 * the hub, `batch` per channel per event-loop turn; the per-turn flush distributes and "writes".
 * Prints ns of CPU per delivery and deliveries/s (wall clock, so only meaningful on an idle
 * machine), so a regression in the hot path shows without the full rig.
 *
 *   node bench/dist/src/hub/hub-micro.js [--quick] [--json [--many-channels]] [--subscribers N] [--batch B]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Bus, BusHandler, HistoryResult, Publication } from '@megaphone/bus';
import { wsFraming } from '@megaphone/gateway';
import { Hub, type Sink } from '@megaphone/hub';
import { encodePublicationFrame, type StreamPosition } from '@megaphone/protocol';

/** A bus that only forwards what the benchmark hands it. */
class StubBus implements Bus {
  readonly kind = 'memory' as const;
  private handler: BusHandler | undefined;
  readonly epoch = 'bench';
  offset = 0;
  setHandler(handler: BusHandler): void {
    this.handler = handler;
  }
  emit(pub: Publication): void {
    this.offset = pub.offset;
    this.handler!.publication(pub);
  }
  async publish(): Promise<StreamPosition> {
    throw new Error('not used');
  }
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}
  async history(): Promise<HistoryResult> {
    return { epoch: this.epoch, offset: this.offset, publications: [], recovered: true };
  }
  async publishControl(): Promise<void> {}
  async listenControl(): Promise<() => void> {
    return () => {};
  }
  isReady(): boolean {
    return true;
  }
  async close(): Promise<void> {}
}

/** Framed as the gateway frames WebSocket connections (JSON lines), written nowhere. */
class NoopSink implements Sink {
  readonly framing = wsFraming;
  bytes = 0;
  write(chunk: Buffer): void {
    this.bytes += chunk.length;
  }
  bufferedBytes(): number {
    return 0;
  }
  close(): void {}
}

export interface MicroResult {
  subscribers: number;
  /** Subscribers are spread evenly over this many channels, each connection on one. */
  channels: number;
  /** Publications per channel per event-loop turn. */
  batch: number;
  deliveries: number;
  nsPerDelivery: number;
  deliveriesPerSecond: number;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function runHubMicro(subscribers: number, batch: number, targetDeliveries: number, channels = 1): Promise<MicroResult> {
  const bus = new StubBus();
  const hub = new Hub({ bus, maxQueueBytes: 1 << 30, maxSubscriptionsPerConnection: 64 });
  const names = Array.from({ length: channels }, (_, c) => (channels === 1 ? 'bench' : `bench:${c}`));
  for (let i = 0; i < subscribers; i++) {
    await hub.connect(new NoopSink()).subscribe({ op: 'subscribe', id: 1, channel: names[i % channels]! });
  }
  await turn();
  const data = JSON.stringify({ line: 'x'.repeat(60) }); // ~100-byte frames
  const rounds = Math.min(100_000, Math.max(20, Math.ceil(targetDeliveries / (subscribers * batch))));
  const warmup = Math.ceil(rounds / 5);
  // Frames are encoded once by the publisher, not by the hub (which never looks inside them):
  // pre-encoded ones are reused so that encoding stays out of the measurement.
  const frames = names.map((name) => Array.from({ length: batch }, (_, i) => encodePublicationFrame(name, i + 1, Date.now(), data)));
  let offset = 0;
  const round = async (): Promise<void> => {
    const now = Date.now();
    for (let i = 0; i < batch; i++) {
      offset++;
      for (let c = 0; c < channels; c++) {
        bus.emit({ channel: names[c]!, epoch: bus.epoch, offset, time: now, frame: frames[c]![i]! });
      }
    }
    await turn();
  };
  for (let r = 0; r < warmup; r++) await round();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) await round();
  const wallNs = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  await hub.close();
  const deliveries = rounds * batch * subscribers;
  const cpuNs = (cpu.user + cpu.system) * 1000;
  return {
    subscribers,
    channels,
    batch,
    deliveries,
    nsPerDelivery: cpuNs / deliveries,
    deliveriesPerSecond: deliveries / (wallNs / 1e9),
  };
}

export interface MicroSuiteOptions {
  /** About a tenth of the deliveries per configuration: a smoke run. */
  quick?: boolean;
  subscribers?: readonly number[];
  batches?: readonly number[];
  /** Add the many-channels row (10k connections over 1k channels); default true. */
  manyChannels?: boolean;
}

/** Every configuration, one after another (the numbers are CPU per delivery, so run it alone). */
export async function runHubMicroSuite(opts: MicroSuiteOptions = {}): Promise<MicroResult[]> {
  const target = opts.quick ? 300_000 : 3_000_000;
  const results: MicroResult[] = [];
  for (const subscribers of opts.subscribers ?? [1, 100, 1000, 10_000]) {
    for (const batch of opts.batches ?? [1, 20]) results.push(await runHubMicro(subscribers, batch, target));
  }
  // The "many channels" shape: 10k connections over 1k channels, one publication each per turn.
  if (opts.manyChannels !== false && opts.subscribers === undefined && opts.batches === undefined) {
    results.push(await runHubMicro(10_000, 1, target, 1000));
  }
  return results;
}

export function formatHubMicro(results: readonly MicroResult[]): string {
  const lines = [
    'hub micro-benchmark (no-op sinks, ~100-byte frames; CPU ns per delivery)',
    'subscribers  channels  batch/turn  deliveries   ns/delivery  deliveries/s',
  ];
  for (const r of results) {
    lines.push(
      `${String(r.subscribers).padStart(11)}  ${String(r.channels).padStart(8)}  ${String(r.batch).padStart(10)}  ${String(r.deliveries).padStart(10)}  ${r.nsPerDelivery.toFixed(1).padStart(12)}  ${Math.round(r.deliveriesPerSecond).toLocaleString('en-US').padStart(12)}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    strict: true,
    options: {
      json: { type: 'boolean' },
      quick: { type: 'boolean' },
      'many-channels': { type: 'boolean' },
      subscribers: { type: 'string' },
      batch: { type: 'string' },
    },
  });
  const json = values.json ?? false;
  const results = await runHubMicroSuite({
    quick: values.quick ?? false,
    // JSON rows are keyed by subscribers × batch; the many-channels row is asked for explicitly.
    manyChannels: !json || (values['many-channels'] ?? false),
    ...(values.subscribers !== undefined ? { subscribers: [Number(values.subscribers)] } : {}),
    ...(values.batch !== undefined ? { batches: [Number(values.batch)] } : {}),
  });
  console.log(json ? JSON.stringify(results) : formatHubMicro(results));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
