/** One complete line of a command's output, without its `\n` / `\r\n`. */
export interface SplitLine {
  text: string;
  /** The line was longer than `maxLineBytes` and was cut (at a UTF-8 character boundary). */
  truncated: boolean;
}

const LF = 0x0a;
const CR = 0x0d;

/** Largest n ≤ max such that buf[0..n) ends on a UTF-8 character boundary. */
export function utf8Boundary(buf: Buffer, max: number): number {
  let n = Math.min(max, buf.length);
  if (n === buf.length) return n;
  // Back off continuation bytes (10xxxxxx) so that the cut never splits a character.
  while (n > 0 && (buf[n]! & 0xc0) === 0x80) n--;
  return n;
}

/**
 * Splits a byte stream into lines. Works on bytes and decodes only complete lines, so a UTF-8
 * character split across chunks is never mangled; `\r\n` and `\n` both end a line. A line longer
 * than `maxLineBytes` is cut and flagged, and the rest of it is skipped without being buffered, so
 * memory per stream stays bounded by `maxLineBytes` whatever the command writes.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private bytes = 0;
  /** Inside an over-long line that was already emitted truncated: skip until its `\n`. */
  private skipping = false;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer): SplitLine[] {
    const out: SplitLine[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      const end = nl < 0 ? chunk.length : nl;
      if (this.skipping) {
        if (nl >= 0) this.skipping = false;
      } else {
        this.append(chunk.subarray(start, end), out);
        if (nl >= 0 && !this.skipping) out.push(this.take(false));
        else if (nl >= 0) this.skipping = false;
      }
      start = nl < 0 ? chunk.length : nl + 1;
    }
    return out;
  }

  /** The final partial line (output that did not end with a newline), if any. */
  end(): SplitLine[] {
    if (this.skipping) {
      this.skipping = false;
      return [];
    }
    if (this.bytes === 0) return [];
    const line = this.take(false);
    return [line];
  }

  private append(piece: Buffer, out: SplitLine[]): void {
    if (piece.length === 0) return;
    // One extra byte is allowed while buffering: it may be the `\r` of a `\r\n`.
    if (this.bytes + piece.length <= this.maxLineBytes + 1) {
      this.parts.push(piece);
      this.bytes += piece.length;
      return;
    }
    this.parts.push(piece);
    this.bytes += piece.length;
    const all = Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    // The whole line does not fit: emit its head now and skip the rest up to the next newline.
    out.push({ text: all.subarray(0, utf8Boundary(all, this.maxLineBytes)).toString('utf8'), truncated: true });
    this.skipping = true;
  }

  private take(truncated: boolean): SplitLine {
    let buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    if (buf.length > 0 && buf[buf.length - 1] === CR) buf = buf.subarray(0, buf.length - 1);
    if (buf.length > this.maxLineBytes) {
      buf = buf.subarray(0, utf8Boundary(buf, this.maxLineBytes));
      truncated = true;
    }
    return { text: buf.toString('utf8'), truncated };
  }
}
