import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Rows as SPEC §11 shapes them, `connectedAt` in ms as the gateway sends it. */
export const CONNECTIONS = [
  {
    id: 'sess-slow-1',
    remote: '10.0.0.5',
    sub: 'alice',
    transport: 'ws',
    connectedAt: Date.now() - 3_600_000,
    queueBytes: 524_288,
    state: 'catching_up',
    channels: [
      { channel: 'cmd:build', offset: 40, lag: 17 },
      { channel: 'uptime', offset: 9, lag: 0 },
    ],
  },
  {
    id: 'sess-fine-2',
    remote: '127.0.0.1',
    sub: null,
    transport: 'sse',
    connectedAt: Date.now() - 5000,
    queueBytes: 0,
    state: 'live',
    channels: [{ channel: 'uptime', offset: 10, lag: 0 }],
  },
];
export const CHANNELS = [
  { channel: 'uptime', subscribers: 42, nodes: { 'gw-1': 30, 'gw-2': 12 } },
  { channel: 'cmd:build', subscribers: 3, nodes: { 'gw-1': 3 } },
];

/**
 * A stand-in for a gateway's admin port serving `GET /v1/connections` and `GET /v1/channels` with
 * the SPEC §11 shapes, behind `Authorization: Bearer <token>`; it records what it was asked.
 */
export class FakeAdmin {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    /** The request URLs, in order. */
    readonly requests: readonly string[],
  ) {}

  static async start(token: string): Promise<FakeAdmin> {
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.headers.authorization !== `Bearer ${token}`) return json(401, { error: { code: 'unauthorized', message: 'a bearer token is required' } });
      const url = new URL(req.url ?? '/', 'http://admin');
      if (url.pathname === '/v1/connections') return json(200, CONNECTIONS);
      if (url.pathname === '/v1/channels') return json(200, CHANNELS);
      return json(404, { error: { code: 'not_found', message: 'no such endpoint' } });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new FakeAdmin(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
