import assert from 'node:assert/strict';
import type { ManualClock } from '@megaphone/testing';
import type { MegaphoneClient } from '../src/index.js';

/**
 * The client decided not to reconnect: it is closed and has no timer armed on its clock, through
 * which every wait of the SDK goes (backoff, pings, token refresh), so no attempt can come however
 * long one waits. An hour of its time is run anyway, and nothing may happen in it.
 */
export function assertStaysClosed(c: MegaphoneClient, clock: ManualClock): void {
  assert.equal(c.state, 'closed');
  assert.equal(clock.armed, 0, 'no timer may be armed after a final close');
  const changes: string[] = [];
  const off = c.on('state', (s) => changes.push(s.state));
  clock.advance(3600_000);
  off();
  assert.deepEqual(changes, [], 'no attempt to reconnect');
}
