import type { StreamPosition } from '@megaphone/protocol';
import type { CloseRecord, StreamEvent } from './recording-client.js';
import type { Published } from './producer-api.js';
import { waitFor } from './wait.js';

/** What the publisher was told: (epoch, offset) → the data it published there. */
export class PublishLog {
  private readonly byPosition = new Map<string, string>();
  /** Same position handed out twice with different data: offsets were reused (a bus bug). */
  readonly conflicts: string[] = [];
  last = new Map<string, StreamPosition>();

  add(p: Published, data: unknown): void {
    const key = `${p.channel}@${p.epoch}/${p.offset}`;
    const json = JSON.stringify(data);
    const before = this.byPosition.get(key);
    if (before !== undefined && before !== json) this.conflicts.push(`${key} was assigned to ${before} and to ${json}`);
    this.byPosition.set(key, json);
    const l = this.last.get(p.channel);
    if (!l || l.epoch !== p.epoch || l.offset < p.offset) this.last.set(p.channel, { epoch: p.epoch, offset: p.offset });
  }

  dataAt(channel: string, epoch: string, offset: number): string | undefined {
    return this.byPosition.get(`${channel}@${epoch}/${offset}`);
  }
}

/** Anything that records streams per channel: the WebSocket client, the SSE reader. */
export interface Recorder {
  readonly name: string;
  readonly closes: readonly CloseRecord[];
  channelEvents(channel: string): StreamEvent[];
}

export interface StreamReport {
  problems: string[];
  notices: number;
  received: number;
  position: StreamPosition | undefined;
}

/**
 * The delivery guarantee, checked on one client's view of one channel: within an epoch, offsets
 * arrive consecutively with no duplicates; every discontinuity is explained by an explicit notice
 * that came before it (a `gap`, a `subscribed` with `recovered:false`, an epoch change); with a
 * publish log, each delivered message carries the data published at that (epoch, offset).
 */
export function checkStream(events: readonly StreamEvent[], log?: PublishLog): StreamReport {
  const problems: string[] = [];
  let epoch: string | undefined;
  let next: number | undefined;
  let notices = 0;
  let received = 0;
  for (const e of events) {
    switch (e.kind) {
      case 'subscribed':
        if (e.since && e.recovered === true) {
          if (e.epoch !== e.since.epoch) problems.push(`recovered:true but epoch ${e.since.epoch} → ${e.epoch} on ${e.node}`);
          if (epoch !== undefined && (e.since.epoch !== epoch || e.since.offset !== (next ?? 1) - 1)) problems.push(`resumed from ${JSON.stringify(e.since)} but stood at ${epoch}/${(next ?? 1) - 1}`);
          epoch = e.since.epoch;
          next = e.since.offset + 1;
        } else {
          if (e.since) notices++;
          if (e.since && e.recovered === undefined) problems.push(`subscribed with since but no recovered flag on ${e.node}`);
          epoch = e.epoch;
          next = e.offset + 1;
        }
        break;
      case 'gap':
        notices++;
        if (e.epoch === epoch && next !== undefined && e.offset < next - 1) problems.push(`gap notice up to ${e.offset} after ${next - 1} was delivered (${e.node})`);
        epoch = e.epoch;
        next = e.offset + 1;
        break;
      case 'unsubscribed':
        notices++;
        problems.push(`server ended the subscription: ${e.reason} (${e.node})`);
        break;
      case 'message': {
        received++;
        if (next === undefined) {
          problems.push(`message ${e.offset} before any subscribed reply (${e.node})`);
        } else if (e.offset !== next) {
          const what = e.offset < next ? 'duplicate or reordered' : 'silent hole';
          problems.push(`${what}: expected offset ${next}, got ${e.offset} in epoch ${epoch} (${e.node})`);
        }
        if (log && epoch !== undefined) {
          const want = log.dataAt(e.channel, epoch, e.offset);
          const got = JSON.stringify(e.data);
          if (want !== undefined && want !== got) problems.push(`offset ${e.offset} in ${epoch} carries ${got}, published ${want} (${e.node})`);
        }
        next = e.offset + 1;
        break;
      }
    }
    if (problems.length > 20) break;
  }
  const position = epoch === undefined || next === undefined ? undefined : { epoch, offset: next - 1 };
  return { problems, notices, received, position };
}

export function describe(client: Recorder, channel: string, report: StreamReport): string {
  const tail = client
    .channelEvents(channel)
    .slice(-8)
    .map((e) => (e.kind === 'message' ? `msg ${e.offset}` : JSON.stringify(e)))
    .join(' | ');
  return `${client.name} on ${channel}: ${report.problems.join('; ') || 'ok'}; received ${report.received}, notices ${report.notices}, at ${JSON.stringify(report.position)}; closes ${JSON.stringify(client.closes.map((c) => c.code))}; last events: ${tail}`;
}

/**
 * Waits until every client has caught up with the last publication the log knows of, then asserts
 * the guarantee on every stream. Returns the total number of notices (for tests that expect some).
 */
export async function expectAllCaughtUp(clients: readonly Recorder[], channel: string, log: PublishLog, timeoutMs = 20_000): Promise<{ notices: number }> {
  const target = log.last.get(channel);
  if (!target) throw new Error(`nothing was published on ${channel}`);
  if (log.conflicts.length > 0) throw new Error(`the bus handed out one position twice: ${log.conflicts.slice(0, 3).join('; ')}`);
  const behind = () =>
    clients.filter((c) => {
      const r = checkStream(c.channelEvents(channel), log);
      return r.position?.epoch !== target.epoch || r.position.offset < target.offset;
    });
  try {
    await waitFor(`${clients.length} clients to reach ${channel} ${target.epoch}/${target.offset}`, () => behind().length === 0, { timeoutMs, intervalMs: 100 });
  } catch (err) {
    const lag = behind();
    const detail = lag.slice(0, 5).map((c) => describe(c, channel, checkStream(c.channelEvents(channel), log)));
    throw new Error(`${(err as Error).message}; ${lag.length} behind:\n${detail.join('\n')}`);
  }
  let notices = 0;
  const bad: string[] = [];
  for (const c of clients) {
    const r = checkStream(c.channelEvents(channel), log);
    notices += r.notices;
    if (r.problems.length > 0) bad.push(describe(c, channel, r));
  }
  if (bad.length > 0) throw new Error(`${bad.length} of ${clients.length} clients broke the delivery guarantee:\n${bad.slice(0, 8).join('\n')}`);
  return { notices };
}
