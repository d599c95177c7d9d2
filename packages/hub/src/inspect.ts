import { CATCHING_UP, JOINING, type Stream, type Subscription } from './subscription.js';
import type { ChannelPosition, ConnectionState } from './types.js';

export type { ChannelPosition, ConnectionInspection, ConnectionState } from './types.js';

/**
 * How far a subscription is behind its channel on this node. Read only when an operator asks:
 * nothing on the delivery path keeps it up to date. A subscription in another epoch than the
 * node (it is about to be told of a gap) is behind by the whole of the node's epoch.
 */
export function lagOf(sub: Subscription, channel: Stream = sub.channel): number {
  if (channel.epoch === undefined || sub.epoch === '') return 0;
  if (sub.epoch !== channel.epoch) return channel.offset;
  return Math.max(0, channel.offset - sub.last);
}

export function stateOf(lagging: boolean, subs: Iterable<Subscription>): ConnectionState {
  if (lagging) return 'paused';
  for (const s of subs) if (s.state === CATCHING_UP || s.state === JOINING) return 'catching_up';
  return 'live';
}

export function positionsOf(subs: Iterable<Subscription>): ChannelPosition[] {
  const out: ChannelPosition[] = [];
  for (const s of subs) out.push({ channel: s.channel.name, offset: s.last, lag: lagOf(s) });
  return out;
}

export function maxLagOf(subs: Iterable<Subscription>): number {
  let max = 0;
  for (const s of subs) {
    const lag = lagOf(s);
    if (lag > max) max = lag;
  }
  return max;
}
