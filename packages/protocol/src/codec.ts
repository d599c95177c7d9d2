import type { ServerMessage, StreamPosition } from './messages.js';

/** Server → client frames carry one or more messages separated by `\n` (SPEC §3). */
export const MESSAGE_SEPARATOR = 0x0a;

/** Encodes a control message (welcome, subscribed, pong, error, …). Not for the publication hot path. */
export function encodeServerMessage(msg: ServerMessage): Buffer {
  return Buffer.from(JSON.stringify(msg), 'utf8');
}

/**
 * Encodes a publication exactly once, as every subscriber will receive it:
 * `{"op":"message","channel":"…","offset":N,"ts":T,"data":<data>}`.
 * `dataJson` must already be valid JSON text (the publisher serialised it once). Channel names
 * are restricted to characters that need no JSON escaping, so no escaping happens here.
 */
export function encodePublicationFrame(channel: string, offset: number, ts: number, dataJson: string): Buffer {
  return Buffer.from(`{"op":"message","channel":"${channel}","offset":${offset},"ts":${ts},"data":${dataJson}}`, 'utf8');
}

/** Splits a server frame into its JSON messages (what a client does). */
export function decodeServerFrame(frame: string): ServerMessage[] {
  const out: ServerMessage[] = [];
  for (const line of frame.split('\n')) if (line.length > 0) out.push(JSON.parse(line) as ServerMessage);
  return out;
}

/**
 * SSE `id:` values encode every channel's position so that `Last-Event-ID` resumes them all:
 * `channel@epoch/offset` joined by `,` (none of `@ / ,` can appear in a channel or epoch).
 * Takes a Map or any iterable of `[channel, position]` pairs.
 */
export function encodeSseId(positions: Iterable<readonly [channel: string, position: StreamPosition]>): string {
  const parts: string[] = [];
  for (const [channel, p] of positions) parts.push(`${channel}@${p.epoch}/${p.offset}`);
  return parts.join(',');
}

/** Parses an SSE `Last-Event-ID`; returns undefined when it is not one this server wrote. */
export function decodeSseId(id: string, maxChannels = 128): Map<string, StreamPosition> | undefined {
  const out = new Map<string, StreamPosition>();
  if (id.length === 0) return out;
  const parts = id.split(',');
  if (parts.length > maxChannels) return undefined;
  for (const part of parts) {
    const m = /^([A-Za-z0-9_.:-]{1,128})@([A-Za-z0-9_-]{1,64})\/(\d{1,15})$/.exec(part);
    if (!m) return undefined;
    out.set(m[1]!, { epoch: m[2]!, offset: Number(m[3]) });
  }
  return out;
}
