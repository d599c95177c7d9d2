import type { ServerResponse } from 'node:http';
import { HTTP_STATUS, httpErrorBody, type HttpErrorCode } from '@megaphone/protocol';

/** Every HTTP error the gateway sends: `{"error":{"code","message"}}` with the catalogue's status. */
export function sendHttpError(
  res: ServerResponse,
  code: HttpErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(httpErrorBody(code, message));
  res
    .writeHead(HTTP_STATUS[code], { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers })
    .end(body);
}
