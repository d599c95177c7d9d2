import { once } from 'node:events';
import { request } from 'node:http';
import { WebSocket, type ClientOptions } from 'ws';
import { MemoryBus } from '@megaphone/bus';
import { decodeServerFrame, type ServerMessage } from '@megaphone/protocol';
import { createLogger, historyPolicyFor, type Logger } from '@megaphone/runtime';
import { readGatewayConfig, startGateway, type GatewayHandle, type StartGatewayOptions } from '../src/index.js';

export interface TestGateway {
  gw: GatewayHandle;
  bus: MemoryBus;
  base: string;
  ws: string;
  admin: string;
  close(): Promise<void>;
}

/** A gateway on port 0 with a MemoryBus the test publishes to directly. */
export async function startTestGateway(env: Record<string, string> = {}, opts: Pick<StartGatewayOptions, 'publicDir' | 'identify'> & { logger?: Logger } = {}): Promise<TestGateway> {
  const config = readGatewayConfig({
    NODE_NAME: 'gw-test',
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_ADMIN_HOST: '127.0.0.1',
    GATEWAY_ADMIN_PORT: '0',
    LOG_LEVEL: 'silent',
    // Tests open many connections from one address in a burst; the limit's own tests lower it.
    GATEWAY_CONNECTS_PER_IP_PER_SECOND: '100000',
    ...env,
  });
  const bus = new MemoryBus({ history: historyPolicyFor(config.namespaces) });
  const logger = opts.logger ?? createLogger({ level: 'silent', service: 'gateway', node: 'gw-test' });
  const gw = await startGateway({ config, bus, ...opts, logger });
  return {
    gw,
    bus,
    base: `http://127.0.0.1:${gw.port}`,
    ws: `ws://127.0.0.1:${gw.port}/ws`,
    admin: `http://127.0.0.1:${gw.adminPort}`,
    close: async () => {
      await gw.close();
      await bus.close();
    },
  };
}

export interface Closed {
  code: number;
  reason: string;
}

/** A real `ws` client that splits server frames into messages and lets a test wait for them. */
export class TestClient {
  readonly messages: ServerMessage[] = [];
  readonly frames: string[] = [];
  readonly closed: Promise<Closed>;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = String(data);
      if (isBinary) throw new Error('server sent a binary frame');
      this.frames.push(text);
      this.messages.push(...decodeServerFrame(text));
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const w of this.waiters.splice(0)) w();
      });
    });
    ws.on('error', () => {});
  }

  static async connect(url: string, options: ClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, options);
    const client = new TestClient(ws);
    await once(ws, 'open');
    await client.until((m) => m.some((x) => x.op === 'welcome'));
    return client;
  }

  send(obj: unknown): void {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  /** Resolves when `done(messages)` holds; rejects when the connection closes first or after `timeoutMs`. */
  until(done: (messages: ServerMessage[]) => boolean, timeoutMs = 5000): Promise<ServerMessage[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wait);
        reject(new Error(`timed out; got ${JSON.stringify(this.messages.slice(-5))}`));
      }, timeoutMs);
      const wait = (): void => {
        if (done(this.messages)) {
          clearTimeout(timer);
          resolve(this.messages);
        } else if (this.ws.readyState === WebSocket.CLOSED) {
          clearTimeout(timer);
          reject(new Error(`connection closed; got ${JSON.stringify(this.messages.slice(-5))}`));
        } else this.waiters.push(wait);
      };
      wait();
    });
  }

  /** The first message after index `from` matching `pred`. */
  async next<T extends ServerMessage>(pred: (m: ServerMessage) => m is T, from = 0, timeoutMs = 5000): Promise<T> {
    const msgs = await this.until((ms) => ms.slice(from).some(pred), timeoutMs);
    return msgs.slice(from).find(pred)!;
  }

  publications(channel: string): Array<{ offset: number; data: unknown }> {
    return this.messages.flatMap((m) => (m.op === 'message' && m.channel === channel ? [{ offset: m.offset, data: m.data }] : []));
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.terminate();
    await this.closed;
  }
}

export const isOp =
  <O extends ServerMessage['op']>(op: O, id?: number) =>
  (m: ServerMessage): m is Extract<ServerMessage, { op: O }> =>
    m.op === op && (id === undefined || (m as { id?: number }).id === id);

/** A raw HTTP GET, for statuses and headers (fetch hides some, e.g. on upgrade refusals). */
export function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Tries a WebSocket upgrade and reports the HTTP status when it is refused. */
export function upgradeStatus(url: string, options: ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('error', (err) => reject(err));
  });
}

/** The gateway's `megaphone_subscriptions` gauge: client subscriptions this node holds. */
export async function subscriptionCount(t: TestGateway): Promise<number> {
  const m = /^megaphone_subscriptions(?:\{[^}]*\})? (\d+)$/m.exec((await httpGet(`${t.admin}/metrics`)).body);
  return Number(m?.[1] ?? 0);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
