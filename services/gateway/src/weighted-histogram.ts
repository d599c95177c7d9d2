import { Histogram, type Registry } from 'prom-client';

interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

interface HistogramData {
  name: string;
  help: string;
  type: 'histogram';
  values: HistogramValue[];
  aggregator: 'sum';
}

/**
 * A Prometheus histogram that takes one value with a count: `observe(seconds, n)` adds n
 * observations of the same value in O(log buckets), with no allocation. The delivery path records
 * one latency per publication per turn for all the subscribers it was written to; prom-client's
 * own `observe` would cost one call (and a closure) per subscriber.
 *
 * It is exposed through prom-client's registry as a histogram (`_bucket{le}`, `_sum`, `_count`)
 * by answering the registry's reads (`get`, and `getForPromString`, which the registry prefers
 * when present) from its own arrays; test/weighted-histogram.test.ts fails if prom-client stops
 * reading metrics that way.
 */
export class WeightedHistogram extends Histogram {
  private readonly bounds: Float64Array;
  /** Per bucket (not cumulative); the last one is +Inf. */
  private readonly counts: Float64Array;
  private total = 0;
  private sumSeconds = 0;
  private readonly metricName: string;
  private readonly helpText: string;

  constructor(config: { name: string; help: string; buckets: readonly number[]; registers: Registry[] }) {
    super({ name: config.name, help: config.help, buckets: [...config.buckets], registers: config.registers });
    this.metricName = config.name;
    this.helpText = config.help;
    this.bounds = Float64Array.from(config.buckets);
    this.counts = new Float64Array(config.buckets.length + 1);
  }

  /** `count` observations of `value`. */
  observeMany(value: number, count: number): void {
    if (!(count > 0) || !Number.isFinite(value)) return;
    const b = this.bounds;
    let lo = 0;
    let hi = b.length;
    // First bound ≥ value (le is inclusive), or b.length for +Inf.
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (b[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo]! += count;
    this.total += count;
    this.sumSeconds += value * count;
  }

  override observe = (labelsOrValue?: unknown, value?: unknown): void => {
    this.observeMany(typeof labelsOrValue === 'number' ? labelsOrValue : Number(value), 1);
  };

  override reset(): void {
    // prom-client's constructor resets before this class has its arrays.
    if (this.counts === undefined) return;
    this.counts.fill(0);
    this.total = 0;
    this.sumSeconds = 0;
  }

  private data(): HistogramData {
    const values: HistogramValue[] = [];
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i]!;
      values.push({ labels: { le: this.bounds[i]! }, value: acc, metricName: `${this.metricName}_bucket` });
    }
    values.push({ labels: { le: '+Inf' }, value: this.total, metricName: `${this.metricName}_bucket` });
    values.push({ labels: {}, value: this.sumSeconds, metricName: `${this.metricName}_sum` });
    values.push({ labels: {}, value: this.total, metricName: `${this.metricName}_count` });
    return { name: this.metricName, help: this.helpText, type: 'histogram', values, aggregator: 'sum' };
  }

  override async get(): Promise<Awaited<ReturnType<Histogram['get']>>> {
    return this.data() as unknown as Awaited<ReturnType<Histogram['get']>>;
  }

  async getForPromString(): Promise<HistogramData> {
    return this.data();
  }
}
