import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { RecordableHistogram } from 'node:perf_hooks';
import { countMarks, scanSample } from './marks.js';

/** How a client talks to the server under test once the WebSocket is open. */
export type ClientProtocol = 'megaphone' | 'plain' | 'socketio';

export interface ClientTarget {
  protocol: ClientProtocol;
  port: number;
  /** Request path (with query string for the peers: `?channel=…`). */
  path: string;
  /** The channel to subscribe to (Megaphone sends a subscribe command; the peers read it from the path). */
  channel: string;
  /** Megaphone with tokens on: sent in an `auth` command right before the subscribe. */
  token?: string;
}

/** What every client adds to; one object for the whole load generator keeps per-client state small. */
export interface Tally {
  delivered: number;
  stalledDelivered: number;
  frames: number;
  disorder: number;
  closed: number;
  closeCodes: Map<number, number>;
  latency: RecordableHistogram;
}

const SUBSCRIBED = Buffer.from('"op":"subscribed"');
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const ERROR = Buffer.from('"op":"error"');

/**
 * A deliberately small WebSocket client over a raw TCP socket: it parses frame headers, counts
 * message marks in text payloads without decoding them, and only parses timestamps when sampled.
 * The load generator must stay cheaper than the server it measures, so this avoids `ws`, string
 * conversion and JSON.parse on the delivery path.
 */
export class BenchClient {
  private socket: Socket | undefined;
  private rest: Buffer | undefined;
  private open = false;
  ready = false;
  stalled = false;
  private lastSeq = -1;
  private readyResolve: (() => void) | undefined;
  private readyReject: ((err: Error) => void) | undefined;

  constructor(
    private readonly target: ClientTarget,
    private readonly tally: Tally,
    readonly sampled: boolean,
  ) {}

  /** Resolves once the client receives publications (subscribed / socket.io connected). */
  start(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client not ready after ${timeoutMs} ms`)), timeoutMs);
      this.readyResolve = () => {
        clearTimeout(timer);
        resolve();
      };
      this.readyReject = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      // `onread` reads into one shared buffer: no Buffer and no stream event per read, which is
      // most of what a Node client costs per frame.
      const socket = connect({
        port: this.target.port,
        host: '127.0.0.1',
        noDelay: true,
        onread: {
          buffer: READ_BUFFER,
          callback: (n: number, buf: Uint8Array) => {
            this.onData(buf as Buffer, n);
            return true;
          },
        },
      });
      this.socket = socket;
      socket.on('connect', () => {
        const key = randomBytes(16).toString('base64');
        socket.write(
          `GET ${this.target.path} HTTP/1.1\r\nHost: 127.0.0.1:${this.target.port}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      socket.on('error', (err) => this.fail(err));
      socket.on('close', () => {
        if (this.open) this.tally.closed++;
        this.open = false;
        this.fail(new Error('connection closed before ready'));
      });
    });
  }

  /** Stop reading: the kernel buffers fill and the server sees a slow consumer. */
  stall(): void {
    this.stalled = true;
    this.socket?.pause();
  }

  close(): void {
    this.socket?.destroy();
  }

  private fail(err: Error): void {
    const reject = this.readyReject;
    this.readyReject = undefined;
    this.readyResolve = undefined;
    reject?.(err);
  }

  private becomeReady(): void {
    this.ready = true;
    const resolve = this.readyResolve;
    this.readyResolve = undefined;
    this.readyReject = undefined;
    resolve?.();
  }

  /** `shared` is the load generator's one read buffer: anything kept past this call is copied. */
  private onData(shared: Buffer, n: number): void {
    const buf = this.rest === undefined ? shared.subarray(0, n) : Buffer.concat([this.rest, shared.subarray(0, n)]);
    this.rest = undefined;
    let pos = 0;
    if (!this.open) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        this.rest = Buffer.from(buf);
        return;
      }
      if (!buf.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
        this.fail(new Error(`upgrade refused: ${buf.subarray(0, buf.indexOf('\r\n')).toString('latin1')}`));
        this.socket?.destroy();
        return;
      }
      this.open = true;
      pos = end + 4;
      // The gateway runs the subscribe once the token is verified: no need to wait for `authed`.
      if (this.target.protocol === 'megaphone' && this.target.token !== undefined) this.send(`{"op":"auth","id":0,"token":"${this.target.token}"}`);
      // Every WebSocket client sends its subscribe, the peers' too (they take the channel from the
      // path and ignore the frame): a client that has sent data is "interactive" to its kernel,
      // which then delays its ACKs. Over loopback those ACKs and delayed-ACK timers run on the
      // server's core, so clients that never spoke (the peers', until 2026-12-04) billed one more
      // ACK per message to their load generator and fewer to their server: the floor read ~7%
      // cheaper per delivery than the same write loop with Megaphone's clients (docs/benchmarks.md).
      if (this.target.protocol !== 'socketio') this.send(`{"op":"subscribe","id":1,"channel":"${this.target.channel}"}`);
    }
    const len = buf.length;
    while (pos + 2 <= len) {
      const b0 = buf[pos]!;
      let plen = buf[pos + 1]! & 0x7f;
      let hdr = 2;
      if (plen === 126) {
        if (pos + 4 > len) break;
        plen = buf.readUInt16BE(pos + 2);
        hdr = 4;
      } else if (plen === 127) {
        if (pos + 10 > len) break;
        plen = Number(buf.readBigUInt64BE(pos + 2));
        hdr = 10;
      }
      const start = pos + hdr;
      const end = start + plen;
      if (end > len) break;
      this.onFrame(b0 & 0x0f, buf, start, end);
      pos = end;
    }
    if (pos < len) this.rest = Buffer.from(buf.subarray(pos));
  }

  private onFrame(opcode: number, buf: Buffer, start: number, end: number): void {
    if (opcode === 1 || opcode === 0) {
      this.tally.frames++;
      if (!this.ready) {
        this.onControlText(buf, start, end);
        return;
      }
      if (this.sampled) {
        const r = scanSample(buf, start, end, performanceNowEpochMs(), this.tally.latency, this.lastSeq);
        this.lastSeq = r.lastSeq;
        this.tally.disorder += r.disorder;
        if (this.stalled) this.tally.stalledDelivered += r.count;
        else this.tally.delivered += r.count;
        // Engine.IO pings must be answered by sampled clients too, or the server drops them.
        if (r.count === 0 && this.target.protocol === 'socketio') this.onSocketIoControl(buf, start, end);
        return;
      }
      const n = countMarks(buf, start, end);
      if (this.stalled) this.tally.stalledDelivered += n;
      else this.tally.delivered += n;
      if (n === 0 && this.target.protocol === 'socketio') this.onSocketIoControl(buf, start, end);
    } else if (opcode === 8) {
      const code = end - start >= 2 ? buf.readUInt16BE(start) : 1005;
      this.tally.closeCodes.set(code, (this.tally.closeCodes.get(code) ?? 0) + 1);
      this.socket?.end();
    } else if (opcode === 9) {
      this.sendRaw(0x8a, buf.subarray(start, end));
    }
  }

  private onControlText(buf: Buffer, start: number, end: number): void {
    const p = this.target.protocol;
    if (p === 'socketio') {
      this.onSocketIoControl(buf, start, end);
      return;
    }
    const frame = buf.subarray(start, end);
    if (frame.indexOf(SUBSCRIBED) >= 0) {
      this.becomeReady();
      this.tally.delivered += countMarks(buf, start, end);
    } else if (frame.indexOf(ERROR) >= 0) this.fail(new Error(`server error: ${frame.toString('utf8')}`));
  }

  /** Engine.IO v4 over a bare WebSocket: `0` open, `40` namespace connected, `2` ping → `3` pong. */
  private onSocketIoControl(buf: Buffer, start: number, end: number): void {
    const c0 = buf[start];
    const c1 = end - start > 1 ? buf[start + 1] : undefined;
    if (c0 === 0x30 /* 0 */) this.send('40');
    else if (c0 === 0x32 /* 2 */ && end - start === 1) this.send('3');
    else if (c0 === 0x34 /* 4 */ && c1 === 0x30 /* 0 */) this.becomeReady();
  }

  private send(text: string): void {
    this.sendRaw(0x81, Buffer.from(text, 'utf8'));
  }

  /** Client frames must be masked; a zero mask key is valid and keeps the payload as is. */
  private sendRaw(b0: number, payload: Buffer): void {
    const n = payload.length;
    let head: Buffer;
    if (n < 126) {
      head = Buffer.alloc(6);
      head[1] = 0x80 | n;
    } else {
      head = Buffer.alloc(8);
      head[1] = 0x80 | 126;
      head.writeUInt16BE(n, 2);
    }
    head[0] = b0;
    this.socket?.write(Buffer.concat([head, payload]));
  }
}

const origin = performance.timeOrigin;
/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one host. */
export function performanceNowEpochMs(): number {
  return origin + performance.now();
}


