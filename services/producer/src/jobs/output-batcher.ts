import type { SplitLine } from './line-splitter.js';

export type StreamName = 'stdout' | 'stderr';

/**
 * `{"run","stream","lines":[…]}` on `cmd:<job>`. `truncated: true` means the LAST line of this
 * publication was cut (at `maxLineBytes`, or to fit one publication under `MAX_PUBLICATION_BYTES`):
 * a cut line always ends its publication, so the flag is exact per line without per-line objects.
 */
export interface OutputPublication {
  run: string;
  stream: StreamName;
  lines: string[];
  truncated?: true;
}

function jsonBytes(s: string): number {
  return Buffer.byteLength(JSON.stringify(s));
}

/** Cuts `text` until its JSON string form fits in `budget` bytes (never splitting a surrogate pair). */
function fitLine(text: string, budget: number): string {
  let t = text;
  let size = jsonBytes(t);
  while (size > budget && t.length > 0) {
    let n = Math.max(0, Math.min(t.length - 1, Math.floor((t.length * budget) / size) - 1));
    const c = t.charCodeAt(n - 1);
    if (n > 0 && c >= 0xd800 && c <= 0xdbff) n--;
    t = t.slice(0, n);
    size = jsonBytes(t);
  }
  return t;
}

/**
 * Gathers the lines that arrive together (in the same turn of the event loop) into as few
 * publications as possible, each under `maxPublicationBytes` of JSON, keeping stream order.
 */
export class OutputBatcher {
  private readonly pending: Record<StreamName, SplitLine[]> = { stdout: [], stderr: [] };
  private scheduled: NodeJS.Immediate | undefined;
  private readonly baseBytes: number;

  constructor(
    private readonly run: string,
    private readonly maxPublicationBytes: number,
    private readonly emit: (pub: OutputPublication) => void,
  ) {
    this.baseBytes = Buffer.byteLength(JSON.stringify({ run, stream: 'stdout', lines: [], truncated: true }));
  }

  add(stream: StreamName, lines: SplitLine[]): void {
    if (lines.length === 0) return;
    for (const l of lines) this.pending[stream].push(l);
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      this.flush();
    });
  }

  /** Publishes everything pending now (before a lifecycle event, so output always comes first). */
  flush(): void {
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    for (const stream of ['stdout', 'stderr'] as const) {
      const lines = this.pending[stream];
      if (lines.length === 0) continue;
      this.pending[stream] = [];
      this.split(stream, lines);
    }
  }

  private split(stream: StreamName, lines: SplitLine[]): void {
    const budget = this.maxPublicationBytes - this.baseBytes;
    let batch: string[] = [];
    let bytes = 0;
    let truncated = false;
    const out = (): void => {
      if (batch.length === 0) return;
      this.emit(truncated ? { run: this.run, stream, lines: batch, truncated: true } : { run: this.run, stream, lines: batch });
      batch = [];
      bytes = 0;
      truncated = false;
    };
    for (const line of lines) {
      let text = line.text;
      let cut = line.truncated;
      let size = jsonBytes(text) + 1;
      if (size > budget) {
        text = fitLine(text, budget - 1);
        cut = true;
        size = jsonBytes(text) + 1;
      }
      if (bytes + size > budget) out();
      batch.push(text);
      bytes += size;
      if (cut) {
        truncated = true;
        out();
      }
    }
    out();
  }
}
