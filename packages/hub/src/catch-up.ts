import { Reason } from '@megaphone/protocol';
import type { HubContext } from './context.js';
import { CATCHING_UP, CLOSED, startTail, stopTail, type Subscription } from './subscription.js';

/** Publications read from history per step of a catch-up. */
const PAGE = 500;

/**
 * Pauses a subscription's live delivery and brings it back to the node's position from history,
 * over its own connection. `lagged`: the cause is its connection's cap (SPEC §7), so history that
 * no longer covers the hole closes the connection with 4000; otherwise (a hole at join or on the
 * node) the subscriber gets a `gap` message and continues.
 */
export function startCatchUp(ctx: HubContext, sub: Subscription, lagged: boolean): void {
  if (sub.state === CLOSED) return;
  sub.state = CATCHING_UP;
  if (lagged) sub.lagged = true;
  if (sub.catchingUp || sub.conn.lagging) return;
  sub.catchingUp = true;
  // Never inside the caller's loop (a channel distributing its batch): a synchronous failure
  // would close the connection and reshape the subscriber list being walked.
  queueMicrotask(() => void run(ctx, sub));
}

async function run(ctx: HubContext, sub: Subscription): Promise<void> {
  const conn = sub.conn;
  const ch = sub.channel;
  try {
    for (;;) {
      if (sub.state !== CATCHING_UP || conn.closed || conn.lagging) return;
      if (sub.lagged && ctx.conflate(ch.name) && conn.conflate(sub)) {
        if (ch.trySettle(sub)) return;
      }
      const before = sub.last;
      startTail(sub);
      const res = await ctx.bus.history(ch.name, { since: { epoch: sub.epoch, offset: sub.last }, limit: PAGE });
      if (sub.state !== CATCHING_UP || conn.closed) return;
      // A history that says "recovered" but starts past the hole is treated as what it is.
      const head = res.publications[0];
      if (res.recovered && (head === undefined || head.offset <= sub.last + 1)) {
        if (!conn.replay(sub, res.publications)) return;
        if (sub.last < res.offset && res.publications.length > 0) continue;
        if (!conn.replayTail(sub)) return;
      } else if (sub.lagged && res.epoch === sub.epoch) {
        ctx.metrics.gap('lost');
        conn.closeSlow();
        return;
      } else {
        const all = await ctx.bus.history(ch.name);
        if (sub.state !== CATCHING_UP || conn.closed) return;
        const first = all.publications[0];
        const gapOffset = first !== undefined ? first.offset - 1 : all.offset;
        const reason = all.epoch !== sub.epoch ? Reason.EpochChanged : Reason.HistoryExpired;
        if (reason === Reason.HistoryExpired) ctx.metrics.gap('lost');
        conn.sendGap(sub, all.epoch, gapOffset, reason);
        if (!conn.replay(sub, all.publications) || !conn.replayTail(sub)) return;
      }
      if (ch.trySettle(sub)) return;
      if (sub.last === before) {
        // History has nothing the node has not distributed yet (a lagging replica?): go live and
        // let the next batch look again rather than spin.
        ch.forceLive(sub);
        return;
      }
    }
  } catch (err) {
    ctx.logger?.warn({ err, channel: ch.name, conn: conn.id }, 'history read failed during catch-up');
    if (!conn.closed && sub.state === CATCHING_UP) conn.closeSlow();
  } finally {
    stopTail(sub);
    sub.catchingUp = false;
  }
}
