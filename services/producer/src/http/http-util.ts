import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTP_STATUS, httpErrorBody, type HttpErrorCode } from '@megaphone/protocol';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';

/** An error with a stable code from the protocol catalogue; its HTTP status comes from `HTTP_STATUS`. */
export class HttpError extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  sendJson(res, err.status, httpErrorBody(err.code, err.message), err.headers);
}

function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * Reads a JSON request body of at most `maxBytes`. Refuses a wrong content type (415), a body that is
 * or announces itself too large (413, without reading the rest) and invalid JSON (400).
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  if (!isJsonType(req.headers['content-type'])) {
    throw new HttpError('unsupported_media_type', 'the body must be JSON (Content-Type: application/json)');
  }
  const tooLarge = (): HttpError =>
    new HttpError('payload_too_large', `the body is larger than ${maxBytes} bytes (PRODUCER_MAX_BODY_BYTES)`, { connection: 'close' });
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve());
    req.once('error', reject);
    req.once('aborted', () => reject(new HttpError('bad_request', 'the request was aborted')));
  });
  const text = Buffer.concat(chunks, size).toString('utf8');
  if (text.trim() === '') throw new HttpError('bad_request', 'the body is empty; expected JSON');
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw new HttpError('bad_request', `the body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError('bad_request', 'the body is not valid JSON');
  }
}
