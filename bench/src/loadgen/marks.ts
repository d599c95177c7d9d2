import type { RecordableHistogram } from 'node:perf_hooks';

/**
 * Every published item (a message, or one line of command output) carries
 * `~T<publish time, epoch ms with fraction>~S<sequence>~<padding>`. Counting `~T` counts items in
 * any framing (Megaphone's `\n`-joined frames, a Socket.IO event, one line inside a `lines` array)
 * without parsing JSON; sampled clients also read the time and the sequence.
 */
export const MARK = Buffer.from('~T');
const TILDE = 0x7e;

export function markedText(sentAtMs: number, seq: number, padTo: number): string {
  const head = `~T${sentAtMs.toFixed(3)}~S${seq}~`;
  return head.length >= padTo ? head : head + 'x'.repeat(padTo - head.length);
}

/**
 * Nothing inside `~T<time>~S<seq>~` can start another mark, so the scan skips the shortest such
 * head after each hit. A plain loop beats `Buffer.indexOf` here: its per-call cost in C++ dominated
 * the load generator's profile (one call per message).
 */
const MIN_HEAD = 22;
const T = 0x54;

export function countMarks(buf: Buffer, start: number, end: number): number {
  let n = 0;
  const last = end - 1;
  for (let i = start; i < last; i++) {
    if (buf[i] === TILDE && buf[i + 1] === T) {
      n++;
      i += MIN_HEAD;
    }
  }
  return n;
}

export interface SampleResult {
  count: number;
  lastSeq: number;
  disorder: number;
}

/** Counts marks, records each item's latency (µs) and checks that sequences only go up. */
export function scanSample(
  buf: Buffer,
  start: number,
  end: number,
  nowMs: number,
  latency: RecordableHistogram,
  lastSeqIn: number,
): SampleResult {
  let count = 0;
  let disorder = 0;
  let lastSeq = lastSeqIn;
  let i = buf.indexOf(MARK, start);
  while (i >= 0 && i < end) {
    count++;
    let j = i + 2;
    let whole = 0;
    let frac = 0;
    let scale = 1;
    let inFrac = false;
    for (; j < end; j++) {
      const c = buf[j]!;
      if (c === 0x2e) inFrac = true;
      else if (c >= 0x30 && c <= 0x39) {
        if (inFrac) {
          scale /= 10;
          frac += (c - 0x30) * scale;
        } else whole = whole * 10 + (c - 0x30);
      } else break;
    }
    if (buf[j] === TILDE && buf[j + 1] === 0x53 /* S */) {
      let seq = 0;
      for (j += 2; j < end; j++) {
        const c = buf[j]!;
        if (c < 0x30 || c > 0x39) break;
        seq = seq * 10 + (c - 0x30);
      }
      if (seq <= lastSeq) disorder++;
      else lastSeq = seq;
    }
    const us = Math.round((nowMs - (whole + frac)) * 1000);
    latency.record(us > 0 ? us : 1);
    i = buf.indexOf(MARK, j);
  }
  return { count, lastSeq, disorder };
}
