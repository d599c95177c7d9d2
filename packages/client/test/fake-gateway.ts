import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import type { ClientCommand, ServerMessage } from '@megaphone/protocol';

interface Log {
  epoch: string;
  offset: number;
  /** Publications still in history; older ones were trimmed. */
  items: { offset: number; data: unknown }[];
}

/**
 * A tiny stand-in for the gateway that speaks the client protocol (SPEC §3): enough to drive the
 * SDK through history, live, resume, reset and the close codes without the real services.
 */
export class FakeGateway {
  readonly commands: ClientCommand[] = [];
  readonly sockets = new Set<WebSocket>();
  private readonly logs = new Map<string, Log>();
  private readonly subs = new Map<WebSocket, Set<string>>();
  private connections = 0;
  /** While true the server reads commands but answers nothing (a half-dead connection). */
  muted = false;
  /** Set to make the next subscribe replies carry these raw messages instead of the real ones. */
  onSubscribe: ((ws: WebSocket, cmd: Extract<ClientCommand, { op: 'subscribe' }>) => boolean) | undefined;
  /**
   * Set to check `auth` commands: return the token's lifetime in ms to accept it (`authed`), or
   * undefined to refuse it (an `unauthorized` error, then close 4401), as the gateway does.
   */
  onAuth: ((token: string) => number | undefined) | undefined;

  private constructor(
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {}

  static async start(port = 0): Promise<FakeGateway> {
    const wss = new WebSocketServer({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    const gw = new FakeGateway(wss, (wss.address() as AddressInfo).port);
    wss.on('connection', (ws) => gw.accept(ws));
    return gw;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get connectionCount(): number {
    return this.connections;
  }

  private log(channel: string): Log {
    let log = this.logs.get(channel);
    if (log === undefined) {
      log = { epoch: 'e1', offset: 0, items: [] };
      this.logs.set(channel, log);
    }
    return log;
  }

  private accept(ws: WebSocket): void {
    this.connections++;
    this.sockets.add(ws);
    this.subs.set(ws, new Set());
    ws.on('close', () => {
      this.sockets.delete(ws);
      this.subs.delete(ws);
    });
    this.send(ws, { op: 'welcome', node: `fake-${this.connections}`, session: `s${this.connections}`, heartbeatMs: 25_000 });
    ws.on('message', (raw) => {
      const cmd = JSON.parse(String(raw)) as ClientCommand;
      this.commands.push(cmd);
      if (this.muted) return;
      if (cmd.op === 'ping') this.send(ws, { op: 'pong', id: cmd.id });
      else if (cmd.op === 'presence') {
        if (cmd.channel.startsWith('secret:')) this.send(ws, { op: 'error', id: cmd.id, code: 'forbidden', message: 'no' });
        else this.send(ws, { op: 'presence', id: cmd.id, channel: cmd.channel, subscribers: cmd.channel.length });
      }
      else if (cmd.op === 'auth') {
        const lifetime = this.onAuth?.(cmd.token);
        if (lifetime !== undefined) this.send(ws, { op: 'authed', id: cmd.id, sub: 'tester', expiresAt: Date.now() + lifetime });
        else {
          this.send(ws, { op: 'error', id: cmd.id, code: 'unauthorized', message: 'the token is not valid' });
          ws.close(4401, 'unauthorized');
        }
      }
      else if (cmd.op === 'unsubscribe') {
        this.subs.get(ws)?.delete(cmd.channel);
        this.send(ws, { op: 'unsubscribed', id: cmd.id, channel: cmd.channel });
      } else if (cmd.op === 'subscribe') {
        if (this.onSubscribe?.(ws, cmd) === true) return;
        this.subscribe(ws, cmd);
      }
    });
  }

  private subscribe(ws: WebSocket, cmd: Extract<ClientCommand, { op: 'subscribe' }>): void {
    const log = this.log(cmd.channel);
    const out: ServerMessage[] = [];
    const oldest = log.items[0]?.offset ?? log.offset + 1;
    let replay: Log['items'] = [];
    const reply: ServerMessage = { op: 'subscribed', id: cmd.id, channel: cmd.channel, epoch: log.epoch, offset: log.offset };
    if (cmd.since !== undefined) {
      const recovered = cmd.since.epoch === log.epoch && cmd.since.offset + 1 >= oldest && cmd.since.offset <= log.offset;
      reply.recovered = recovered;
      if (recovered) replay = log.items.filter((p) => p.offset > cmd.since!.offset);
    } else if (cmd.history !== undefined) {
      replay = log.items.slice(-cmd.history);
    }
    out.push(reply);
    for (const p of replay) out.push(this.message(cmd.channel, p.offset, p.data));
    this.sendAll(ws, out);
    this.subs.get(ws)?.add(cmd.channel);
  }

  private message(channel: string, offset: number, data: unknown): ServerMessage {
    return { op: 'message', channel, offset, ts: Date.now(), data };
  }

  /** Publishes to a channel: kept in history (the last `keep`), sent to every subscriber. */
  publish(channel: string, data: unknown, keep = 1000): number {
    const log = this.log(channel);
    const offset = ++log.offset;
    log.items.push({ offset, data });
    if (log.items.length > keep) log.items.splice(0, log.items.length - keep);
    for (const [ws, channels] of this.subs) if (channels.has(channel)) this.send(ws, this.message(channel, offset, data));
    return offset;
  }

  /** Forgets a channel's history and starts a new epoch, as a Redis restarted empty would. */
  resetChannel(channel: string, epoch: string): void {
    this.logs.set(channel, { epoch, offset: 0, items: [] });
  }

  trimHistory(channel: string): void {
    this.log(channel).items = [];
  }

  send(ws: WebSocket, msg: ServerMessage): void {
    ws.send(JSON.stringify(msg));
  }

  /** Several messages in one frame, joined by `\n`, as the real hub coalesces them. */
  sendAll(ws: WebSocket, msgs: ServerMessage[]): void {
    ws.send(msgs.map((m) => JSON.stringify(m)).join('\n'));
  }

  sendRaw(text: string): void {
    for (const ws of this.sockets) ws.send(text);
  }

  closeAll(code: number, reason = ''): void {
    for (const ws of this.sockets) ws.close(code, reason);
  }

  /** Drops every connection without a close frame (the client sees 1006). */
  terminateAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  async close(): Promise<void> {
    this.terminateAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
