import { randomBytes } from 'node:crypto';
import type { Bus, Lease } from '@megaphone/bus';
import { JOBS_CHANNEL, UPTIME_CHANNEL, jobChannel } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import { ControlLink } from './control.js';
import type { JobManager } from '../jobs/job-manager.js';
import { Leadership } from './leadership.js';
import type { Outbox } from '../outbox.js';
import type { Run } from '../jobs/run.js';
import { localRuns, type RunsHandler } from '../http/runs-api.js';
import { startUptime } from '../uptime.js';

/** The lease every producer of one Redis competes for. */
export const PRODUCER_LEASE = 'producer';
const UPTIME_RECORD = 'uptimeStartedAt';
const RUN_RECORD = 'run:';

interface RunRecord {
  run: string;
  job: string;
  startedAt: string;
  producer: string;
  /** Stopped (and announced) by its leader's graceful shutdown: the next leader resumes the job. */
  handedOver?: boolean;
}

export interface LeaderRoleOptions {
  lease: Lease;
  jobs: JobManager;
  outbox: Outbox;
  /** With Redis: the producers' own bus, over which a standby reaches the leader (control.ts). */
  controlBus: Bus | undefined;
  forwardTimeoutMs: number;
  forwardMaxPending: number;
  node: string;
  leaseMs: number;
  uptimeIntervalMs: number;
  logger: Logger;
  metrics: { elected(): void };
}

export interface LeaderRole {
  readonly runs: RunsHandler;
  isLeader(): boolean;
  currentFence(): number | undefined;
  /** Subscribes the control channel and tries for the lease once (when won, takes over). */
  start(): Promise<void>;
  /** A publication with this fencing number was refused (the outbox says so). */
  fenced(fence: number): void;
  /** Releases the lease (call after the runs ended and the outbox flushed). */
  stop(): Promise<void>;
  /** A watcher for the job manager: records runs with the lease. */
  readonly watcher: { started(run: Run): void; ended(run: Run, byShutdown: boolean): void };
}

/**
 * What makes one producer of several the leader (SPEC §12): the lease (leadership.ts), the takeover
 * (announce the previous leader's runs as `lost`, continue the uptime count, start the jobs), the
 * run records a successor needs, fencing of everything the leader publishes, and the API's job and
 * run requests answered here or forwarded to the leader.
 */
export function startLeaderRole(opts: LeaderRoleOptions): LeaderRole {
  const { lease, jobs, outbox, logger } = opts;
  const owner = `${opts.node}#${randomBytes(4).toString('hex')}`;
  let stopUptime: (() => void) | undefined;
  let writes: Promise<unknown> = Promise.resolve();

  const record = (field: string, value: string | null): void => {
    const fence = leadership.currentFence;
    if (fence === undefined) return;
    writes = writes
      .then(() => lease.writeLeaseRecord(PRODUCER_LEASE, owner, fence, field, value))
      .catch((err: Error) => logger.warn({ err: err.message, field }, 'could not record a run with the lease'));
  };

  async function takeOver(fence: number): Promise<void> {
    opts.metrics.elected();
    const records = await lease.leaseRecords(PRODUCER_LEASE);
    const lost: RunRecord[] = [];
    const handedOver: RunRecord[] = [];
    for (const [field, value] of Object.entries(records)) {
      if (!field.startsWith(RUN_RECORD)) continue;
      try {
        const r = JSON.parse(value) as RunRecord;
        (r.handedOver === true ? handedOver : lost).push(r);
      } catch {
        logger.warn({ field }, 'unreadable run record ignored');
      }
    }
    // The previous leader's runs end as `lost` before anything of ours starts (fenced: a deposed
    // leader's late output on these channels is refused from here on).
    const now = Date.now();
    const tickets = lost.flatMap((r) => {
      const event = { run: r.run, event: 'exited', code: null, signal: null, durationMs: now - Date.parse(r.startedAt), timedOut: false, outcome: 'lost', producer: r.producer };
      return [
        outbox.enqueue(jobChannel(r.job), JSON.stringify(event), { fence }),
        outbox.enqueue(JOBS_CHANNEL, JSON.stringify({ ...event, job: r.job }), { fence }),
      ];
    });
    await Promise.all(tickets.map((t) => t.done));
    if (leadership.currentFence !== fence) return;
    for (const r of [...lost, ...handedOver]) record(`${RUN_RECORD}${r.run}`, null);
    if (lost.length > 0) logger.warn({ runs: lost.map((r) => `${r.job}/${r.run}`) }, 'runs of the previous leader announced as lost');
    const recorded = Number(records[UPTIME_RECORD]);
    const first = !Number.isFinite(recorded) || recorded <= 0;
    const startedAt = first ? Date.now() : recorded;
    if (first) record(UPTIME_RECORD, String(startedAt));
    jobs.lead({ boot: first, resume: [...new Set([...lost, ...handedOver].map((r) => r.job))] });
    stopUptime = startUptime({
      intervalMs: opts.uptimeIntervalMs,
      node: opts.node,
      startedAt,
      publish: (data) => void outbox.enqueue(UPTIME_CHANNEL, JSON.stringify(data), { conflate: true, fence }),
    });
  }

  const leadership: Leadership = new Leadership({
    lease,
    name: PRODUCER_LEASE,
    owner,
    ttlMs: opts.leaseMs,
    recordsTtlMs: Math.max(60_000, opts.leaseMs * 10),
    logger: logger.child({ component: 'leadership' }),
    elected: takeOver,
    deposed: () => {
      stopUptime?.();
      stopUptime = undefined;
      jobs.standDown();
    },
  });

  const local = localRuns(jobs);
  const link =
    opts.controlBus === undefined
      ? undefined
      : new ControlLink({
          bus: opts.controlBus,
          answer: (req) => (leadership.isLeader ? local(req) : undefined),
          timeoutMs: opts.forwardTimeoutMs,
          maxPending: opts.forwardMaxPending,
          logger: logger.child({ component: 'control' }),
        });
  const runs: RunsHandler = async (req) => (leadership.isLeader || link === undefined ? local(req) : link.forward(req));

  return {
    runs,
    isLeader: () => leadership.isLeader,
    currentFence: () => leadership.currentFence,
    start: async () => {
      try {
        await link?.start();
      } catch (err) {
        // The bus keeps trying; subscriptions are taken again when it is back.
        logger.warn({ err: (err as Error).message }, 'the control channel is not subscribed yet');
      }
      await leadership.start();
    },
    fenced: (fence) => leadership.fenced(fence),
    stop: async () => {
      stopUptime?.();
      stopUptime = undefined;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([writes, new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
      await leadership.stop();
      link?.close();
    },
    watcher: {
      started: (run) => record(`${RUN_RECORD}${run.id}`, JSON.stringify(runRecord(run, opts.node))),
      ended: (run, byShutdown) =>
        record(`${RUN_RECORD}${run.id}`, byShutdown && run.job.restart !== 'never' ? JSON.stringify({ ...runRecord(run, opts.node), handedOver: true }) : null),
    },
  };
}

function runRecord(run: Run, producer: string): RunRecord {
  return { run: run.id, job: run.job.name, startedAt: run.summary().startedAt, producer };
}
