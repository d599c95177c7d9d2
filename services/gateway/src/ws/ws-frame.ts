import type { Publication } from '@megaphone/bus';
import type { Framing } from '@megaphone/hub';

/**
 * The WebSocket sink's framing: JSON lines (`wsFraming`, handed to the hub) and text frames built
 * once per chunk (`textFrame`, used by `WsClient.write`). The hub hands the same chunk (one Buffer) to every
 * subscriber of a channel in a turn; framing it once and writing that one buffer to each socket
 * saves ws's per-send header allocation and a two-buffer writev per subscriber (about 14% of the
 * server's CPU per delivery in a 1,000-client fan-out measured on loopback).
 *
 * This relies on three things about ws, each checked by test/ws-frame.test.ts so that an upgrade
 * that changes them fails loudly: without permessage-deflate its frames go to the socket at once
 * (no internal queue, so our writes and its pings/close frames stay in call order);
 * `bufferedAmount` counts the socket's buffer (so the hub's cap still sees these bytes); and a
 * server frame is unmasked (RFC 6455 §5.1).
 */

/** Chunks at least this large are written as header + chunk (corked) rather than copied. */
const COPY_LIMIT = 16 * 1024;

let lastChunk: Buffer | undefined;
let lastFrame: Buffer | undefined;

export function frameHeader(length: number): Buffer {
  if (length < 126) return Buffer.from([0x81, length]);
  if (length < 65_536) {
    const h = Buffer.allocUnsafe(4);
    h[0] = 0x81;
    h[1] = 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.allocUnsafe(10);
  h[0] = 0x81;
  h[1] = 127;
  h.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
  h.writeUInt32BE(length >>> 0, 6);
  return h;
}

/**
 * One text frame holding `chunk`, or undefined when the chunk is too large to be worth copying.
 * Chunks are immutable once handed to a sink (ws never copied them either), so the frame of the
 * last chunk is reused while the hub writes that chunk to one subscriber after another.
 */
export function textFrame(chunk: Buffer): Buffer | undefined {
  if (chunk === lastChunk) return lastFrame;
  if (chunk.length >= COPY_LIMIT) return undefined;
  const header = frameHeader(chunk.length);
  const frame = Buffer.allocUnsafe(header.length + chunk.length);
  header.copy(frame, 0);
  chunk.copy(frame, header.length);
  lastChunk = chunk;
  lastFrame = frame;
  return frame;
}

const NL = 0x0a;

/**
 * The frames of `pubs[from…]` joined by '\n' into one buffer. A single publication is returned
 * as is (no copy): that is the common case of one publication per channel per turn.
 */
export function joinFrames(pubs: readonly Publication[], from: number): Buffer {
  const n = pubs.length;
  if (from === n - 1) return pubs[from]!.frame;
  let size = n - from - 1;
  for (let i = from; i < n; i++) size += pubs[i]!.frame.length;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (let i = from; i < n; i++) {
    if (i > from) out[pos++] = NL;
    const f = pubs[i]!.frame;
    f.copy(out, pos);
    pos += f.length;
  }
  return out;
}

/** Chunks joined by '\n' (each chunk is one or more messages). */
export function joinLines(first: Buffer, rest: readonly Buffer[]): Buffer {
  let size = first.length;
  for (const b of rest) size += b.length + 1;
  const out = Buffer.allocUnsafe(size);
  first.copy(out, 0);
  let pos = first.length;
  for (const b of rest) {
    out[pos++] = NL;
    b.copy(out, pos);
    pos += b.length;
  }
  return out;
}

/**
 * WebSocket framing (SPEC §3): a text frame holds one or more JSON messages separated by '\n'.
 * Nothing in it depends on the connection, so a channel's batch is joined once per turn and the
 * same chunk (and, through `textFrame`, the same frame) goes to every subscriber.
 */
export const wsFraming: Framing = {
  message: (_op, json) => json,
  run: joinFrames,
  join: joinLines,
};
