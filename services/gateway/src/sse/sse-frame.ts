import { encodeSseId } from '@megaphone/protocol';
import type { Framing } from '@megaphone/hub';

const TAIL = Buffer.from('\n\n');
const NL = 0x0a;

/** One event: `id` (omitted when empty), `event`, and the JSON as `data` lines. */
export function sseEvent(id: string, event: string, json: Buffer): Buffer {
  const head = Buffer.from(id === '' ? `event: ${event}\ndata: ` : `id: ${id}\nevent: ${event}\ndata: `);
  // JSON text from the publisher could hold raw newlines; each line must be its own `data:` line.
  const data = json.indexOf(NL) < 0 ? json : Buffer.from(json.toString('utf8').replace(/\r?\n/g, '\ndata: '));
  return Buffer.concat([head, data, TAIL], head.length + data.length + TAIL.length);
}

/**
 * Server-Sent Events framing: one event per message, named by its op, whose `id:` holds every
 * subscription's position on the connection (`encodeSseId`), so that `Last-Event-ID` resumes
 * them all. The id differs per connection, so there is no shared `run`: the hub frames each
 * publication for each SSE connection.
 */
export const sseFraming: Framing = {
  message: (op, json, at) => sseEvent(encodeSseId(at.positions()), op, json),
  // Each chunk ends its own event.
  join: (first, rest) => Buffer.concat([first, ...rest]),
};
