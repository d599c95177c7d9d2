import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

/**
 * Writes a frame to a plain TCP socket's handle, skipping Node's `Writable` bookkeeping.
 *
 * `socket.write(buf)` on an idle socket runs the stream machinery (`Writable.write`,
 * `writeOrBuffer`, `_writeGeneric`, a new `WriteWrap` per call, a `process.nextTick` per socket for
 * `afterWrite`) around one call into the handle, which tries the kernel first (libuv's
 * `uv_try_write`). At one small frame per socket per publication that machinery is over a third of
 * the user CPU of a write: 1.28 vs 0.81 µs per write (`bench/src/write-path.ts`: 1,000 loopback
 * sockets, 50 writes per second each, alternating in one process; docs/benchmarks.md), and it is
 * what separated the gateway from the benchmark's floor at low rates. Here the same handle call is made directly, with one reused
 * request object while the kernel takes every frame at once.
 *
 * Why this is safe, each checked by test/direct-write.test.ts against the running Node:
 * - **Order.** libuv keeps one write queue per handle, and `uv_try_write` refuses to write while
 *   anything is queued, so a direct write and a `socket.write` (ws's pings and close frames) reach
 *   the peer in call order even when either was queued. A direct write is made only when Node's
 *   own stream holds nothing (not writing, not corked, nothing buffered, not ending).
 * - **Backpressure.** When the kernel does not take the whole frame, libuv queues the rest and the
 *   write completes later: the caller counts those bytes as buffered until then (the hub's cap),
 *   keeps the buffer alive on the request, and hears of the completion. A connection has at most
 *   one such write (and one request object) at a time: until it completes, its frames go through
 *   `socket.write`, whose bytes ws's `bufferedAmount` counts.
 * - **Errors.** A failed write destroys the socket, as Node does; a write cancelled by the socket's
 *   destruction completes with an error status that the caller ignores.
 * - **End.** `socket.end()` shuts the handle down through libuv, which waits for queued writes.
 * - **Not counted by Node.** `socket.bytesWritten` and `writableLength` do not see these bytes; the
 *   gateway's own counters (`megaphone_bytes_written_total`, the connection's queue) do.
 *
 * Node does not document this layer (`process.binding('stream_wrap')` and `socket._handle`):
 * `directWrites` is undefined wherever it does not look as expected, and TLS or non-TCP sockets are
 * never written this way, so the gateway falls back to `socket.write`. A Node upgrade that changes
 * it fails the test above rather than the gateway.
 */

/** Told when a write that the kernel did not take at once has finished (status < 0: failed). */
export interface DirectWriteOwner {
  directWriteDone(status: number): void;
}

interface WriteReq {
  oncomplete: (this: WriteReq, status: number) => void;
  owner: DirectWriteOwner | null;
  buffer: Buffer | null;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

interface StreamHandle {
  writeBuffer(req: WriteReq, data: Buffer): number;
}

type WritableStateView = { length: number; writing: boolean; corked: number; ending: boolean; destroyed: boolean };

/** What this reads of Node's internals on a socket. */
interface SocketInternals {
  /** A `TCP` for plain TCP sockets; null once closed. */
  _handle: StreamHandle | null;
  _writableState: WritableStateView;
}

declare const opaque: unique symbol;
/**
 * A socket's handle and stream state, read once when the connection opens: `socket._handle` is an
 * accessor, and the socket object is one more cache line per delivery. Both stay the socket's for
 * its life; the handle is closed only after `destroy()` has marked the state destroyed, which every
 * write checks first.
 */
export interface DirectTarget {
  readonly handle: { readonly [opaque]: 'handle' };
  readonly state: { readonly [opaque]: 'state' };
}

/** Written whole (the kernel took it). */
export const WROTE = 0;
/** Not written: Node's stream holds data or the socket is ending; use `socket.write`. */
export const BUSY = 1;
/** Partly queued in libuv: the owner hears `directWriteDone` when it is out. */
export const QUEUED = 2;
/** The write failed; the socket has been destroyed. */
export const FAILED = 3;
export type DirectWriteResult = typeof WROTE | typeof BUSY | typeof QUEUED | typeof FAILED;

function onComplete(this: WriteReq, status: number): void {
  const owner = this.owner;
  this.owner = null;
  this.buffer = null;
  owner?.directWriteDone(status);
}

export class DirectWrites {
  private req: WriteReq;
  private readonly state: Int32Array;
  private readonly kAsync: number;

  constructor(
    private readonly binding: StreamWrapBinding,
    private readonly Tcp: abstract new (...args: never[]) => unknown,
  ) {
    this.state = binding.streamBaseState;
    this.kAsync = binding.kLastWriteWasAsync;
    this.req = this.newReq();
  }

  /** What a direct write needs of `socket`; undefined unless it is a plain TCP socket (not TLS, not a pipe). */
  target(socket: Socket): DirectTarget | undefined {
    const internals = socket as unknown as SocketInternals;
    const handle = internals._handle;
    if (handle === null || !(handle instanceof this.Tcp) || typeof handle.writeBuffer !== 'function') return undefined;
    return { handle, state: internals._writableState } as unknown as DirectTarget;
  }

  /**
   * Writes `buf` (immutable until the write is out) to the socket `handle` and `state` came from
   * (`target(socket)`); `socket` is touched only when the write fails.
   */
  write(handle: DirectTarget['handle'], state: DirectTarget['state'], socket: Socket, buf: Buffer, owner: DirectWriteOwner): DirectWriteResult {
    const st = state as unknown as WritableStateView;
    if (st.length !== 0 || st.writing || st.corked !== 0 || st.ending || st.destroyed) return BUSY;
    const req = this.req;
    const err = (handle as unknown as StreamHandle).writeBuffer(req, buf);
    if (err !== 0) {
      socket.destroy(writeError(err));
      return FAILED;
    }
    if (this.state[this.kAsync] === 0) return WROTE;
    // libuv holds the request (and a pointer into buf) until the rest is out.
    req.owner = owner;
    req.buffer = buf;
    this.req = this.newReq();
    return QUEUED;
  }

  private newReq(): WriteReq {
    const req = new this.binding.WriteWrap();
    req.oncomplete = onComplete;
    req.owner = null;
    req.buffer = null;
    return req;
  }
}

function writeError(errno: number): Error {
  let name: string;
  try {
    name = getSystemErrorName(errno);
  } catch {
    name = `errno ${errno}`;
  }
  return Object.assign(new Error(`write ${name}`), { code: name, errno, syscall: 'write' });
}

/** The handle-level layer, when this Node has it as expected; otherwise undefined. */
function detect(): DirectWrites | undefined {
  try {
    const legacy = process as unknown as { binding(name: string): unknown };
    const stream = legacy.binding('stream_wrap') as Partial<StreamWrapBinding>;
    const tcp = legacy.binding('tcp_wrap') as { TCP?: abstract new (...args: never[]) => unknown };
    if (typeof stream.WriteWrap !== 'function' || !(stream.streamBaseState instanceof Int32Array) || typeof stream.kLastWriteWasAsync !== 'number') return undefined;
    if (typeof tcp.TCP !== 'function' || typeof (tcp.TCP.prototype as Partial<StreamHandle>).writeBuffer !== 'function') return undefined;
    return new DirectWrites(stream as StreamWrapBinding, tcp.TCP);
  } catch {
    return undefined;
  }
}

export const directWrites: DirectWrites | undefined = detect();
