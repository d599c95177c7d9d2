import { decodeServerFrame, type ServerMessage } from '@megaphone/protocol';
import type { Sink } from '../src/index.js';

/**
 * Records what the hub writes. `stalled` makes it report everything written since as still
 * buffered (a client that stopped reading); `drain()` lets it all out.
 */
export class FakeSink implements Sink {
  readonly writes: Buffer[] = [];
  closed: { code: number; reason: string } | undefined;
  stalled = false;
  private stalledBytes = 0;
  maxQueued = 0;

  write(chunk: Buffer): void {
    this.writes.push(chunk);
    if (this.stalled) this.stalledBytes += chunk.length;
  }

  bufferedBytes(): number {
    return this.stalledBytes;
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }

  drain(): void {
    this.stalled = false;
    this.stalledBytes = 0;
  }

  /** Every message written, in order (ws format). */
  messages(): ServerMessage[] {
    return this.writes.flatMap((w) => decodeServerFrame(w.toString('utf8')));
  }

  /** Messages of one op on one channel. */
  of(op: ServerMessage['op'], channel?: string): ServerMessage[] {
    return this.messages().filter((m) => m.op === op && (channel === undefined || ('channel' in m && m.channel === channel)));
  }

  /** Offsets of the `message`s received on `channel`, in order. */
  offsets(channel: string): number[] {
    return this.messages().flatMap((m) => (m.op === 'message' && m.channel === channel ? [m.offset] : []));
  }
}

/** Lets the hub's per-turn flush (setImmediate) and pending promises run. */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((r) => setImmediate(r));
}
