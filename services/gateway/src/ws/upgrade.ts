import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { httpErrorBody, HTTP_STATUS, type HttpErrorCode } from '@megaphone/protocol';

/**
 * Refuses an upgrade with a plain HTTP response before any WebSocket exists, so that a refused
 * client costs no WebSocket state (and browsers surface the status in devtools).
 */
export function refuseUpgrade(socket: Duplex, code: HttpErrorCode, message: string, headers: Record<string, string> = {}): void {
  const status = HTTP_STATUS[code];
  const body = JSON.stringify(httpErrorBody(code, message));
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'connection: close',
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  if (socket.writable) socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  else socket.destroy();
}

export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
