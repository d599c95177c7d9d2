/**
 * A live publication on Redis pub/sub: a one-line ASCII header, then the frame bytes exactly as
 * clients receive them, so a node slices the frame out of the message Buffer without copying or
 * re-encoding:
 *
 *     <epoch> <offset> <time ms>\n{"op":"message",…}
 *
 * The publish script (scripts.ts) writes it; this module reads it.
 */
export interface DecodedPayload {
  epoch: string;
  offset: number;
  time: number;
  frame: Buffer;
}

const NEWLINE = 0x0a;
/** Epoch (≤ 64) + two numbers (≤ 16 each) + separators. */
const MAX_HEADER = 100;

export function decodePayload(payload: Buffer): DecodedPayload | undefined {
  const nl = payload.indexOf(NEWLINE);
  if (nl <= 0 || nl > MAX_HEADER) return undefined;
  const parts = payload.toString('latin1', 0, nl).split(' ');
  if (parts.length !== 3) return undefined;
  const offset = Number(parts[1]);
  const time = Number(parts[2]);
  if (!Number.isSafeInteger(offset) || offset < 1 || !Number.isSafeInteger(time)) return undefined;
  return { epoch: parts[0]!, offset, time, frame: payload.subarray(nl + 1) };
}
