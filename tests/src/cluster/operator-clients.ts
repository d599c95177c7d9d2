import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';
import type { ServerMessage } from '@megaphone/protocol';
import { waitFor } from './wait.js';

/**
 * A bare WebSocket client for operator tests: it can stop reading its TCP socket (a stalled
 * client), carries headers (the gateway's `identify` hook reads a test `sub` from them) and keeps
 * the close code it got.
 */
export class OperatorTestClient {
  readonly messages: ServerMessage[] = [];
  session = '';
  closeCode: number | undefined;
  private socket: Socket | undefined;
  private nextId = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      for (const line of String(data).split('\n')) {
        const m = JSON.parse(line) as ServerMessage;
        if (m.op === 'welcome') this.session = m.session;
        this.messages.push(m);
      }
    });
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => {});
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<OperatorTestClient> {
    let socket: Socket | undefined;
    const options: ClientOptions = { headers, createConnection: (o) => (socket = createConnection(o as { port: number; host: string })) };
    const client = new OperatorTestClient(new WebSocket(url, options));
    client.socket = socket;
    await once(client.ws, 'open');
    await waitFor('welcome', () => client.session !== '');
    return client;
  }

  async subscribe(channel: string): Promise<void> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ op: 'subscribe', id, channel }));
    await waitFor(`subscribed to ${channel}`, () => this.messages.some((m) => m.op === 'subscribed' && m.id === id));
  }

  async presence(channel: string): Promise<number> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ op: 'presence', id, channel }));
    const reply = await waitFor(`presence of ${channel}`, () => this.messages.find((m) => m.op === 'presence' && m.id === id));
    return (reply as Extract<ServerMessage, { op: 'presence' }>).subscribers;
  }

  /** Stops (or resumes) reading the TCP socket: the gateway's queue for it grows. */
  stall(on: boolean): void {
    if (on) this.socket!.pause();
    else this.socket!.resume();
  }

  async closed(): Promise<number> {
    return waitFor('close', () => this.closeCode);
  }

  terminate(): void {
    this.ws.terminate();
  }
}
