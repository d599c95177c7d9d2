import type { IncomingHttpHeaders } from 'node:http';
import { decodeSseId, isValidChannel, quoteInput } from '@megaphone/protocol';
import type { SseRequest } from './sse-client.js';

export interface SseLimits {
  maxSubscriptions: number;
  maxHistory: number;
}

/**
 * Reads `GET /sse?channel=a&channel=b[&history=N][&lastEventId=…]` and the `Last-Event-ID` header
 * (which wins: it is what EventSource sends when it reconnects). Returns an error message for a 400.
 */
export function parseSseRequest(url: URL, headers: IncomingHttpHeaders, limits: SseLimits): SseRequest | string {
  const channels = [...new Set(url.searchParams.getAll('channel'))];
  if (channels.length === 0) return 'give at least one channel: /sse?channel=uptime&channel=cmd:build';
  if (channels.length > limits.maxSubscriptions) return `at most ${limits.maxSubscriptions} channels per stream`;
  const bad = channels.find((c): boolean => !isValidChannel(c));
  if (bad !== undefined) return `${quoteInput(bad)} is not a channel name (1–128 characters of A-Z a-z 0-9 _ - . :)`;
  let history: number | undefined;
  const h = url.searchParams.get('history');
  if (h !== null) {
    if (!/^\d{1,9}$/.test(h) || Number(h) > limits.maxHistory) return `history must be an integer from 0 to ${limits.maxHistory}`;
    history = Number(h);
  }
  const header = headers['last-event-id'];
  const id = (typeof header === 'string' ? header : undefined) ?? url.searchParams.get('lastEventId') ?? '';
  const resume = decodeSseId(id.trim(), Math.max(limits.maxSubscriptions, 128));
  if (resume === undefined) return 'Last-Event-ID is not an id this server wrote';
  return { channels, history, resume };
}
