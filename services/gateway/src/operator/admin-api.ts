import type { IncomingMessage, ServerResponse } from 'node:http';
import { isValidChannel, type HttpErrorCode } from '@megaphone/protocol';
import { checkBearer, type Logger } from '@megaphone/runtime';
import type { ClientConnection, ConnectionSet } from '../connections/connections.js';
import { sendHttpError } from '../http/http-error.js';
import { OPERATOR_PAGE } from './page.js';
import type { ClusterPresence } from './presence.js';
import { topN } from './top-n.js';

export type ConnectionSort = 'queue' | 'lag' | 'age';

export interface AdminApiDeps {
  /** ADMIN_TOKEN; unset = loopback clients only. */
  token: string | undefined;
  connections: ConnectionSet;
  presence: ClusterPresence;
  /** Closes this node's connections of `sub` with 4403 and tells every other gateway to; resolves to the count closed here. */
  disconnectSub(sub: string): Promise<number>;
  logger: Logger;
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;
const MAX_BODY_BYTES = 4096;
const MAX_SUB_LENGTH = 256;

/** An API failure with its catalogue code (and so its HTTP status). */
export class ApiError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The operator API on the admin port (SPEC §11): `/v1/…` behind `Authorization: Bearer
 * $ADMIN_TOKEN` (loopback only without one), and the operator page at `/`, which holds no data
 * itself and asks for the token. Everything is computed when asked, from what the hub and the
 * presence table already hold.
 */
export function adminRoutes(deps: AdminApiDeps): (req: IncomingMessage, res: ServerResponse, url: URL) => boolean {
  return (req, res, url) => {
    const path = url.pathname;
    if (path === '/' || path === '/index.html') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY' }).end(req.method === 'HEAD' ? undefined : OPERATOR_PAGE);
      return true;
    }
    if (!path.startsWith('/v1/')) return false;
    const refused = browserGuard(req, deps.token !== undefined);
    if (refused !== undefined) {
      sendHttpError(res, 'forbidden', refused);
      return true;
    }
    const auth = checkBearer(req, deps.token, 'ADMIN_TOKEN');
    if (!auth.ok) {
      sendHttpError(res, auth.code, auth.message, auth.code === 'unauthorized' ? { 'www-authenticate': 'Bearer' } : {});
      return true;
    }
    handle(deps, req, res, url).catch((err: unknown) => {
      if (err instanceof ApiError) return sendHttpError(res, err.code, err.message);
      deps.logger.error({ err }, 'operator API request failed');
      sendHttpError(res, 'internal', 'the request failed');
    });
    return true;
  };
}

async function handle(deps: AdminApiDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const path = url.pathname;
  const method = req.method ?? 'GET';
  if (path === '/v1/connections') {
    if (method !== 'GET') {
      methodNotAllowed(res, 'GET');
      return;
    }
    const sort = url.searchParams.get('sort') ?? 'queue';
    if (sort !== 'queue' && sort !== 'lag' && sort !== 'age') throw new ApiError('bad_request', 'sort must be queue, lag or age');
    return sendJson(res, 200, listConnections(deps.connections.values(), sort, limitOf(url)));
  }
  if (path.startsWith('/v1/connections/')) {
    if (method !== 'DELETE') {
      methodNotAllowed(res, 'DELETE');
      return;
    }
    const id = decodePart(path.slice('/v1/connections/'.length));
    const client = findSession(deps.connections.values(), id);
    if (client === undefined) throw new ApiError('not_found', 'no connection with that id on this gateway');
    client.closeByOperator();
    deps.logger.info({ session: id, sub: client.sub }, 'connection closed by an operator');
    return sendJson(res, 200, { closed: 1 });
  }
  if (path === '/v1/disconnect') {
    if (method !== 'POST') {
      methodNotAllowed(res, 'POST');
      return;
    }
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new ApiError('unsupported_media_type', 'send the body as application/json');
    const sub = subOf(await readJson(req));
    const closed = await deps.disconnectSub(sub);
    return sendJson(res, 202, { closed });
  }
  if (path === '/v1/channels') {
    if (method !== 'GET') {
      methodNotAllowed(res, 'GET');
      return;
    }
    const prefix = url.searchParams.get('prefix') ?? '';
    if (prefix.length > 128) throw new ApiError('bad_request', 'prefix is at most 128 characters');
    return sendJson(res, 200, deps.presence.channels(prefix, limitOf(url)));
  }
  if (path.startsWith('/v1/channels/')) {
    if (method !== 'GET') {
      methodNotAllowed(res, 'GET');
      return;
    }
    const channel = decodePart(path.slice('/v1/channels/'.length));
    if (!isValidChannel(channel)) throw new ApiError('bad_request', 'channel names are 1–128 characters of A-Z a-z 0-9 _ - . :');
    return sendJson(res, 200, deps.presence.channel(channel));
  }
  throw new ApiError('not_found', 'try /v1/connections, /v1/disconnect or /v1/channels');
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Web pages must not drive the operator API from an operator's browser: a request whose `Origin`
 * is not the admin port's own is refused (cross-site POSTs need no preflight), and without
 * ADMIN_TOKEN, where the loopback address is the only credential, so is a `Host` that is not a
 * loopback name (DNS rebinding would otherwise make another site same-origin).
 */
function browserGuard(req: IncomingMessage, hasToken: boolean): string | undefined {
  const host = req.headers.host ?? '';
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) return 'cross-origin requests are refused';
  if (!hasToken) {
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
    if (!LOOPBACK_HOSTS.has(name.toLowerCase())) return 'without ADMIN_TOKEN the operator API answers requests to a loopback name (localhost, 127.0.0.1, [::1]) only';
  }
  return undefined;
}

/** One row of `GET /v1/connections` (SPEC §11). */
export interface ConnectionRow {
  id: string;
  remote: string;
  sub: string | null;
  transport: 'ws' | 'sse';
  connectedAt: number;
  queueBytes: number;
  state: 'live' | 'catching_up' | 'paused';
  channels: Array<{ channel: string; offset: number; lag: number }>;
}

/** The `limit` worst connections by `sort`, without sorting all of them. */
export function listConnections(all: Iterable<ClientConnection>, sort: ConnectionSort, limit: number): ConnectionRow[] {
  const score =
    sort === 'queue' ? (c: ClientConnection) => c.conn.queuedBytes() : sort === 'lag' ? (c: ClientConnection) => c.conn.maxLag() : (c: ClientConnection) => -c.connectedAt;
  return topN(all, limit, score).map((c) => ({ id: c.session, remote: c.remote(), sub: c.sub, transport: c.transport, connectedAt: c.connectedAt, ...c.conn.inspect() }));
}

function findSession(all: Iterable<ClientConnection>, id: string): ClientConnection | undefined {
  for (const c of all) if (c.session === id) return c;
  return undefined;
}

function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ApiError('bad_request', 'bad percent-encoding in the path');
  }
}

function limitOf(url: URL): number {
  const raw = url.searchParams.get('limit');
  if (raw === null) return DEFAULT_LIMIT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_LIMIT) throw new ApiError('bad_request', `limit must be an integer from 1 to ${MAX_LIMIT}`);
  return n;
}

function subOf(body: unknown): string {
  const sub = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).sub : undefined;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUB_LENGTH) throw new ApiError('bad_request', `body must be {"sub":"…"} with a sub of 1–${MAX_SUB_LENGTH} characters`);
  return sub;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError('payload_too_large', `the body is limited to ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new ApiError('bad_request', 'the body is not valid JSON');
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text);
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  sendHttpError(res, 'method_not_allowed', `use ${allow}`, { allow });
  return true;
}
