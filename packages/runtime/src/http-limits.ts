import type { ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * What every HTTP server of Megaphone allows a request, public and admin ports alike: small
 * headers, 10 s to send them and 30 s for the whole request (neither applies to a streaming
 * response), checked every second so a slow-loris client is gone within a second of its deadline.
 */
export const HTTP_SERVER_LIMITS = {
  maxHeaderSize: 8192,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 1000,
} as const satisfies ServerOptions;

/**
 * A request Node could not parse, or one that missed its deadline: 408 for a timeout, 431 for
 * oversized headers, 400 otherwise, then the socket is closed.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const status =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? '408 Request Timeout'
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : '400 Bad Request';
  if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  else socket.destroy();
}
