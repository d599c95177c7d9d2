import { once } from 'node:events';
import { connect } from 'node:net';
import { WebSocket } from 'ws';
import { decodeServerFrame, type ServerMessage } from '@megaphone/protocol';
import { waitFor } from '../cluster/wait.js';

/** A WebSocket client that sends commands in paced bursts and counts the replies by op. */
export class CommandClient {
  readonly counts = new Map<string, number>();
  readonly errors = new Map<string, number>();
  closeCode: number | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      for (const m of decodeServerFrame(String(data))) this.count(m);
    });
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => {});
  }

  static async connect(url: string): Promise<CommandClient> {
    const ws = new WebSocket(url);
    const c = new CommandClient(ws);
    await once(ws, 'open');
    return c;
  }

  private count(m: ServerMessage): void {
    this.counts.set(m.op, (this.counts.get(m.op) ?? 0) + 1);
    if (m.op === 'error') this.errors.set(m.code, (this.errors.get(m.code) ?? 0) + 1);
  }

  n(op: string): number {
    return this.counts.get(op) ?? 0;
  }

  /** Sends `commands` in bursts of `perTick` every `tickMs` (to stay under a per-second command limit). */
  async pace(commands: readonly unknown[], perTick: number, tickMs = 100): Promise<void> {
    for (let i = 0; i < commands.length; i += perTick) {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      for (const c of commands.slice(i, i + perTick)) this.ws.send(JSON.stringify(c));
      await new Promise((r) => setTimeout(r, tickMs));
    }
  }

  async waitFor(what: string, done: () => boolean, timeoutMs = 20_000): Promise<void> {
    await waitFor(what, () => done() || this.closeCode !== undefined, { timeoutMs, intervalMs: 5 });
  }

  /** Sends `commands` `batch` at a time, each batch once `replies()` has caught up with what was sent. */
  async lockstep(commands: readonly unknown[], batch: number, replies: () => number, minIntervalMs = 0): Promise<void> {
    for (let i = 0; i < commands.length; i += batch) {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      const started = Date.now();
      const chunk = commands.slice(i, i + batch);
      for (const c of chunk) this.ws.send(JSON.stringify(c));
      await this.waitFor('replies to the batch', () => replies() >= i + chunk.length);
      const rest = minIntervalMs - (Date.now() - started);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

/**
 * Sends `head` (part of an HTTP request) and never finishes it; resolves with what the server
 * answered and how long after the connect it closed the socket.
 */
export async function slowLoris(port: number, head: string, timeoutMs: number): Promise<{ reply: string; closedAfterMs: number }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let reply = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => (reply += c));
  await once(socket, 'connect');
  const start = Date.now();
  socket.write(head);
  const drip = setInterval(() => socket.writable && socket.write('X-a: b\r\n'), 1000);
  const closed = await Promise.race([once(socket, 'close').then(() => true), new Promise<false>((r) => setTimeout(() => r(false), timeoutMs))]);
  clearInterval(drip);
  socket.destroy();
  return { reply, closedAfterMs: closed ? Date.now() - start : Number.POSITIVE_INFINITY };
}
