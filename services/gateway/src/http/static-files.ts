import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, extname, join, normalize, sep } from 'node:path';
import { sendHttpError } from './http-error.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The client SDK's browser bundle is meant to be imported by pages of other origins
 * (`<script type="module">import { MegaphoneClient } from 'https://gateway/client.js'`): a module
 * script from another origin loads only with CORS. It holds no data, so any origin may read it.
 */
const CROSS_ORIGIN_FILES = new Set(['client.js', 'client.js.map']);

/** Bundler output with a content hash in the name (`app-3F2A1B9C.js`) never changes: cache it for good. */
const HASHED = /[.-][A-Za-z0-9]{8,}\.[a-z0-9]+$/;

/**
 * Resolves a URL path inside `root`, or undefined when it would leave it (`..`, encoded
 * separators, NUL bytes) or is not decodable.
 */
export function resolveStaticPath(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  if (decoded.split('/').includes('..')) return undefined;
  const relative = normalize(decoded.endsWith('/') ? `${decoded}index.html` : decoded).replace(/^\/+/, '');
  const base = root.endsWith(sep) ? root : root + sep;
  const full = join(base, relative);
  return full.startsWith(base) ? full : undefined;
}

function relativeName(root: string, file: string): string {
  const base = root.endsWith(sep) ? root : root + sep;
  return file.startsWith(base) ? file.slice(base.length) : file;
}

/** Serves the web console's files (GET/HEAD), with ETags and cache headers. */
export async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, urlPath: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendHttpError(res, 'method_not_allowed', 'use GET', { allow: 'GET, HEAD' });
    return;
  }
  const file = resolveStaticPath(root, urlPath);
  if (file === undefined) {
    sendHttpError(res, 'not_found', 'no such file');
    return;
  }
  let info;
  try {
    info = await stat(file);
  } catch {
    sendHttpError(res, 'not_found', urlPath === '/' ? 'the web console is not built (npm run build)' : 'no such file');
    return;
  }
  if (!info.isFile()) {
    sendHttpError(res, 'not_found', 'no such file');
    return;
  }
  const etag = `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`;
  const ext = extname(file).toLowerCase();
  const headers: Record<string, string | number> = {
    'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream',
    // Unhashed files (index.html, app.js) revalidate every time (a cheap 304), so a deploy never
    // mixes a new page with an old script.
    'cache-control': HASHED.test(basename(file)) && ext !== '.html' ? 'public, max-age=31536000, immutable' : 'no-cache',
    etag,
    'x-content-type-options': 'nosniff',
  };
  if (CROSS_ORIGIN_FILES.has(relativeName(root, file))) {
    headers['access-control-allow-origin'] = '*';
    headers['cross-origin-resource-policy'] = 'cross-origin';
  }
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers).end();
    return;
  }
  headers['content-length'] = info.size;
  res.writeHead(200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
