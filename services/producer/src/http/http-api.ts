import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostPolicy, TokenVerifier } from '@megaphone/auth';
import type { Bus } from '@megaphone/bus';
import type { StreamPosition } from '@megaphone/protocol';
import { HTTP_SERVER_LIMITS, answerClientError, type Logger } from '@megaphone/runtime';
import { authenticate, callerName, permits, type Caller } from './auth.js';
import { HttpError, readJsonBody, sendError, sendJson } from './http-util.js';
import type { Outbox } from '../outbox.js';
import { parsePublishBody } from './publish-request.js';
import { guardRequest, MUTATING } from './request-guard.js';
import type { RunsHandler, RunsRequest } from './runs-api.js';

export interface ApiOptions {
  /** Jobs and runs: answered by this producer when it leads, else forwarded to the leader (SPEC §12). */
  runs: RunsHandler;
  outbox: Outbox;
  bus: Pick<Bus, 'isReady'>;
  apiToken: string | undefined;
  /** JWTs whose `publish`/`run` claims grant narrower rights (SPEC §10). */
  verifier: TokenVerifier;
  /** PRODUCER_ALLOWED_HOSTS. */
  allowedHosts: HostPolicy;
  /** The job a run belongs to, for the `run` claim of `DELETE /v1/runs/{run}`. */
  jobOfRun(run: string): Promise<string | undefined> | string | undefined;
  maxBodyBytes: number;
  maxPublicationBytes: number;
  /** How long `POST /v1/publish` waits for the bus before answering 503. */
  publishTimeoutMs: number;
  logger: Logger;
  onRequest?(route: string, status: number): void;
}

interface Route {
  /** Template used as the metrics label. */
  name: string;
  pattern: RegExp;
  methods: Readonly<Record<string, (req: IncomingMessage, res: ServerResponse, params: string[], caller: Caller | undefined) => Promise<void> | void>>;
  /** What a mutating request on this route needs beyond authentication (the run claim). */
  needs?: (method: string, params: string[]) => Promise<{ action: 'run'; name: string } | undefined>;
}

/** The producer's HTTP API (SPEC §5). Every error is `{"error":{"code","message"}}` with its catalogue status. */
export function createApiServer(opts: ApiOptions): Server {
  const routes: Route[] = [
    { name: '/v1/jobs', pattern: /^\/v1\/jobs\/?$/, methods: { GET: (_q, res) => runs(res, { op: 'list' }) } },
    {
      name: '/v1/jobs/{name}/runs',
      pattern: /^\/v1\/jobs\/([^/]+)\/runs\/?$/,
      methods: { POST: (_q, res, p) => runs(res, { op: 'start', job: p[0]! }) },
      needs: async (_m, p) => ({ action: 'run', name: p[0]! }),
    },
    {
      name: '/v1/runs/{run}',
      pattern: /^\/v1\/runs\/([^/]+)\/?$/,
      methods: { GET: (_q, res, p) => runs(res, { op: 'get', run: p[0]! }), DELETE: (_q, res, p) => runs(res, { op: 'stop', run: p[0]! }) },
      needs: async (_m, p) => {
        const job = await opts.jobOfRun(p[0]!);
        if (job === undefined) throw new HttpError('not_found', 'no such run');
        return { action: 'run', name: job };
      },
    },
    { name: '/v1/publish', pattern: /^\/v1\/publish\/?$/, methods: { POST: (req, res, _p, caller) => publish(req, res, caller) } },
  ];

  async function runs(res: ServerResponse, req: RunsRequest): Promise<void> {
    const reply = await opts.runs(req);
    sendJson(res, reply.status, reply.body, reply.headers);
  }

  async function publish(req: IncomingMessage, res: ServerResponse, caller: Caller | undefined): Promise<void> {
    const body = await readJsonBody(req, opts.maxBodyBytes);
    const { items, single } = parsePublishBody(body, opts.maxPublicationBytes);
    const refused = items.find((it) => !permits(caller, 'publish', it.channel));
    if (refused !== undefined) throw new HttpError('forbidden', `your token does not allow publishing to "${refused.channel}"; nothing was published`);
    const retry = { 'retry-after': '1' };
    if (!opts.bus.isReady()) throw new HttpError('unavailable', 'the bus is unavailable; nothing was published, retry later', retry);
    if (opts.outbox.isFull()) throw new HttpError('unavailable', 'the outbox is full (the bus is not keeping up); nothing was published, retry later', retry);
    const tickets = items.map((it) => opts.outbox.enqueue(it.channel, it.dataJson));
    let timer: NodeJS.Timeout | undefined;
    const results = await Promise.race([
      Promise.all(tickets.map((t) => t.done)),
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), opts.publishTimeoutMs))),
    ]);
    clearTimeout(timer);
    const positions = results?.map((r) => (r.ok ? r.position : undefined));
    if (positions === undefined || positions.some((x) => x === undefined)) {
      const withdrawn = tickets.filter((t) => t.cancel()).length;
      const maybe = items.length - withdrawn;
      throw new HttpError(
        'unavailable',
        `the bus did not confirm within ${opts.publishTimeoutMs} ms; ${withdrawn} of ${items.length} publication(s) were withdrawn` +
          (maybe > 0 ? `, ${maybe} were already handed to the bus and may still be published` : ''),
        retry,
      );
    }
    const out = (positions as StreamPosition[]).map((pos, i) => ({ channel: items[i]!.channel, epoch: pos.epoch, offset: pos.offset }));
    sendJson(res, 200, single ? out[0] : out);
  }

  /** The auth step in front of every mutating handler: who calls (401), and may they (403). */
  async function authorizeMutation(req: IncomingMessage, route: Route, method: string, params: string[]): Promise<Caller> {
    const auth = await authenticate(req, { apiToken: opts.apiToken, verifier: opts.verifier });
    if (!auth.ok) throw new HttpError(auth.status, auth.message, auth.status === 'unauthorized' ? { 'www-authenticate': 'Bearer' } : {});
    const need = auth.caller.kind === 'token' ? await route.needs?.(method, params) : undefined;
    if (need !== undefined && !permits(auth.caller, need.action, need.name)) {
      throw new HttpError('forbidden', `your token does not allow starting or stopping runs of "${need.name.slice(0, 64)}"`);
    }
    if (auth.caller.kind === 'token') opts.logger.debug({ sub: callerName(auth.caller), route: route.name, method }, 'API request by token');
    return auth.caller;
  }

  const server = createServer(HTTP_SERVER_LIMITS, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    let routeName = 'other';
    const done = (status: number): void => opts.onRequest?.(routeName, status);
    res.once('finish', () => done(res.statusCode));
    const handle = async (): Promise<void> => {
      guardRequest(req, opts.allowedHosts);
      for (const route of routes) {
        const m = route.pattern.exec(path);
        if (m === null) continue;
        routeName = route.name;
        const handler = route.methods[method];
        if (method === 'OPTIONS') {
          // A preflight from our own origin (a foreign one was refused above): no CORS allowance
          // is ever granted, so browsers on other sites cannot call the API.
          res.writeHead(204, { allow: Object.keys(route.methods).join(', '), 'content-length': '0' }).end();
          return;
        }
        if (handler === undefined) {
          throw new HttpError('method_not_allowed', `${method} is not allowed here; use ${Object.keys(route.methods).join(', ')}`, {
            allow: Object.keys(route.methods).join(', '),
          });
        }
        const params = m.slice(1).map((s) => {
          try {
            return decodeURIComponent(s);
          } catch {
            throw new HttpError('bad_request', 'the path is not valid');
          }
        });
        const caller = MUTATING.has(method) ? await authorizeMutation(req, route, method, params) : undefined;
        await handler(req, res, params, caller);
        return;
      }
      throw new HttpError('not_found', 'no such endpoint; see GET /v1/jobs, POST /v1/jobs/{name}/runs, GET|DELETE /v1/runs/{run}, POST /v1/publish');
    };
    handle().catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        if (err.headers.connection === 'close') {
          // The rest of an oversized body is not wanted: discard what keeps coming for a moment so
          // the client can read the reply (closing on unread data would reset it), then hang up.
          res.once('finish', () => {
            req.resume();
            setTimeout(() => req.socket.destroy(), 1000).unref();
          });
        }
        sendError(res, err);
      } else {
        opts.logger.error({ err, method, route: routeName }, 'API request failed');
        sendError(res, new HttpError('internal', 'internal error'));
      }
    });
  });
  server.on('clientError', answerClientError);
  return server;
}

export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
