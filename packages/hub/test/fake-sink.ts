import type { Publication } from '@megaphone/bus';
import { decodeServerFrame, type ServerMessage, type StreamPosition } from '@megaphone/protocol';
import type { Framing, Positions, Sink } from '../src/index.js';

const NL = Buffer.from('\n');

/** JSON lines, as a WebSocket sink frames them: runs of publications framed once and shared. */
export const lines: Framing = {
  message: (_op, json) => json,
  run: (pubs: readonly Publication[], from: number) =>
    from === pubs.length - 1 ? pubs[from]!.frame : Buffer.concat(pubs.slice(from).flatMap((p, i) => (i === 0 ? [p.frame] : [NL, p.frame]))),
  join: (first, rest) => Buffer.concat([first, ...rest.flatMap((b) => [NL, b])]),
};

/** One message per line, each with the connection's positions as the framing saw them (like SSE ids). */
export class PositionalFraming implements Framing {
  /** Per message framed: its op and the connection's positions. */
  readonly seen: { op: string; positions: Map<string, StreamPosition> }[] = [];
  message(op: ServerMessage['op'], json: Buffer, at: Positions): Buffer {
    this.seen.push({ op, positions: new Map([...at.positions()].map(([ch, p]) => [ch, { epoch: p.epoch, offset: p.offset }])) });
    return Buffer.concat([json, NL]);
  }
  join(first: Buffer, rest: readonly Buffer[]): Buffer {
    return Buffer.concat([first, ...rest]);
  }
}

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

  constructor(readonly framing: Framing = lines) {}

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

  /** Every message written, in order. */
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

/**
 * Until the hub has nothing left to do on its own: no bus call (subscribe, history read) under
 * way and none started by what the last ones delivered. What a sink holds then is final.
 */
export async function quiesce(bus: { idle(): Promise<void>; readonly inFlight: number }): Promise<void> {
  do {
    await bus.idle();
    await settle();
  } while (bus.inFlight > 0);
}
