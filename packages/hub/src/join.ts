import type { Publication } from '@megaphone/bus';

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

/** Chunks joined by '\n' (ws) or back to back (sse, whose chunks end their own events). */
export function joinChunks(first: Buffer, rest: readonly Buffer[], separator: boolean): Buffer {
  let size = first.length;
  for (const b of rest) size += b.length + (separator ? 1 : 0);
  const out = Buffer.allocUnsafe(size);
  first.copy(out, 0);
  let pos = first.length;
  for (const b of rest) {
    if (separator) out[pos++] = NL;
    b.copy(out, pos);
    pos += b.length;
  }
  return out;
}
