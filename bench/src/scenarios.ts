/** What one measured step does: publish at a rate (or run a job) and wait for the tail. */
export interface StepSpec {
  label: string;
  /** Messages per second per channel. */
  ratePerChannel: number;
  durationMs: number;
  /** Characters of marked text per message (≈ message size minus ~80 bytes of envelope). */
  payloadChars: number;
  drainMs: number;
  stallFraction?: number;
  /** Command-output burst: the job prints this many lines over durationMs. */
  jobLines?: number;
}

export interface ScenarioSpec {
  id: string;
  title: string;
  clients: number;
  channels: number;
  /** Every n-th client samples latency. */
  sampleEvery: number;
  steps: StepSpec[];
  /** Stop stepping a system at its first saturated step (its backlog would distort the next one). */
  stopWhenSaturated: boolean;
  /**
   * How Megaphone gets the publications: through the producer's HTTP API (default), or with
   * `Bus.publish` from the load generator (the producer's Redis step without its HTTP layer).
   */
  megaphoneVia?: 'producer' | 'bus';
  /** Run the (single) step on every system in alternation this many rounds; report medians. */
  alternateRounds?: number;
  /** Only connect and measure memory (no publishing). */
  idleOnly?: boolean;
}

/** ~112-byte messages on the wire, as in the measurements ("100-byte messages"). */
const SMALL = 32;
/**
 * Slow consumers get 1.6 MB/s each: enough to fill the kernel's socket buffers (tcp_rmem/wmem allow
 * tens of MB on loopback) within seconds, so that the server's own queue policy is what is measured.
 */
const SLOW_PAYLOAD = 16 * 1024;

function fanout(id: string, clients: number, rates: number[], durationMs: number, drainMs: number): ScenarioSpec {
  return {
    id,
    title: `Fan-out: ${clients.toLocaleString('en')} clients on one channel, rates stepped up to saturation`,
    clients,
    channels: 1,
    sampleEvery: clients >= 2000 ? 50 : 20,
    stopWhenSaturated: true,
    megaphoneVia: 'bus',
    steps: rates.map((r) => ({ label: `${r} msg/s`, ratePerChannel: r, durationMs, payloadChars: SMALL, drainMs })),
  };
}

export function scenarios(quick: boolean): ScenarioSpec[] {
  if (quick) {
    return [
      fanout('fanout-1k', 1000, [50, 1000], 2500, 2000),
      {
        id: 'burst', title: 'Command output burst: a job prints 2,000 lines in one second, 200 clients', clients: 200, channels: 1, sampleEvery: 10, stopWhenSaturated: false,
        steps: [{ label: '2000 lines/1 s', ratePerChannel: 2000, durationMs: 1000, payloadChars: 60, drainMs: 4000, jobLines: 2000 }],
      },
      {
        id: 'many-channels', title: 'Many channels: 2,000 clients over 200 channels', clients: 2000, channels: 200, sampleEvery: 20, stopWhenSaturated: true, megaphoneVia: 'bus',
        steps: [{ label: '5 msg/s/channel', ratePerChannel: 5, durationMs: 2500, payloadChars: SMALL, drainMs: 2000 }],
      },
      {
        id: 'slow-consumers', title: 'Slow consumers: 100 clients, 5% stop reading (16 KiB messages, 100/s)', clients: 100, channels: 1, sampleEvery: 5, stopWhenSaturated: false,
        steps: [
          { label: 'all reading', ratePerChannel: 100, durationMs: 2500, payloadChars: SLOW_PAYLOAD, drainMs: 2000 },
          { label: '5% stalled', ratePerChannel: 100, durationMs: 4000, payloadChars: SLOW_PAYLOAD, drainMs: 2000, stallFraction: 0.05 },
        ],
      },
      { id: 'idle', title: 'Idle connections: 2,000 clients', clients: 2000, channels: 1, sampleEvery: 1000, stopWhenSaturated: false, idleOnly: true, steps: [] },
    ];
  }
  return [
    {
      id: 'low-rate-ab', title: 'Low rate, alternating: 1,000 clients × 50 msg/s, every system up at once, a warm-up round, then 5 rounds in rotating order, medians',
      clients: 1000, channels: 1, sampleEvery: 20, stopWhenSaturated: false, megaphoneVia: 'bus', alternateRounds: 5,
      steps: [{ label: '50 msg/s', ratePerChannel: 50, durationMs: 6000, payloadChars: SMALL, drainMs: 2000 }],
    },
    // 2,200 rather than 2,000 msg/s: the delivered rate is counted over the step's whole window (a
    // few ms longer than the publishing), so an offered 2.00M/s reads 1.99M/s even when complete.
    fanout('fanout-1k', 1000, [50, 200, 1000, 2200, 3000], 8000, 3000),
    fanout('fanout-5k', 5000, [10, 40, 200, 440, 600], 8000, 3000),
    {
      id: 'burst', title: 'Command output burst: a job prints 5,000 lines in one second, 1,000 clients', clients: 1000, channels: 1, sampleEvery: 20, stopWhenSaturated: false,
      steps: [{ label: '5000 lines/1 s', ratePerChannel: 5000, durationMs: 1000, payloadChars: 60, drainMs: 8000, jobLines: 5000 }],
    },
    {
      id: 'many-channels', title: 'Many channels: 10,000 clients over 1,000 channels', clients: 10_000, channels: 1000, sampleEvery: 50, stopWhenSaturated: true, megaphoneVia: 'bus',
      steps: [
        { label: '2 msg/s/channel', ratePerChannel: 2, durationMs: 8000, payloadChars: SMALL, drainMs: 3000 },
        { label: '10 msg/s/channel', ratePerChannel: 10, durationMs: 8000, payloadChars: SMALL, drainMs: 3000 },
      ],
    },
    {
      id: 'slow-consumers', title: 'Slow consumers: 200 clients, 5% stop reading (16 KiB messages, 100/s)', clients: 200, channels: 1, sampleEvery: 5, stopWhenSaturated: false,
      steps: [
        { label: 'all reading', ratePerChannel: 100, durationMs: 8000, payloadChars: SLOW_PAYLOAD, drainMs: 3000 },
        { label: '5% stalled', ratePerChannel: 100, durationMs: 15000, payloadChars: SLOW_PAYLOAD, drainMs: 3000, stallFraction: 0.05 },
      ],
    },
    { id: 'idle', title: 'Idle connections: 10,000 clients', clients: 10_000, channels: 1, sampleEvery: 1000, stopWhenSaturated: false, idleOnly: true, steps: [] },
    // More than 10k: as many as one process may hold open files here (ulimit -n 20,000 for the
    // load generator's sockets and the server's alike), less a margin.
    { id: 'idle-18k', title: 'Idle connections: 18,000 clients', clients: 18_000, channels: 1, sampleEvery: 1000, stopWhenSaturated: false, idleOnly: true, steps: [] },
  ];
}
