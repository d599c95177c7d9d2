import type { Subscription } from './subscription.js';

const TAIL = Buffer.from('\n\n');
const NL = 0x0a;

/**
 * The SSE `id:` of a connection: every subscription's position (`encodeSseId`'s format),
 * so that `Last-Event-ID` resumes them all. Subscriptions without a position yet are left out.
 */
export function sseId(subs: Iterable<Subscription>): string {
  let id = '';
  for (const s of subs) {
    if (s.epoch === '') continue;
    if (id.length > 0) id += ',';
    id += `${s.channel.name}@${s.epoch}/${s.last}`;
  }
  return id;
}

/** One event: `id` (omitted when empty), `event`, and the JSON as `data` lines. */
export function sseEvent(id: string, event: string, json: Buffer): Buffer {
  const head = Buffer.from(id === '' ? `event: ${event}\ndata: ` : `id: ${id}\nevent: ${event}\ndata: `);
  // JSON text from the publisher could hold raw newlines; each line must be its own `data:` line.
  const data = json.indexOf(NL) < 0 ? json : Buffer.from(json.toString('utf8').replace(/\r?\n/g, '\ndata: '));
  return Buffer.concat([head, data, TAIL], head.length + data.length + TAIL.length);
}
