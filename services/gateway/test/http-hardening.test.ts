import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { HTTP_SERVER_LIMITS, answerClientError } from '@megaphone/runtime';
import { startTestGateway } from './helpers.js';

/** Sends `request` on a raw socket and collects everything until the server closes it. */
async function rawExchange(port: number, request: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => (text += c));
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(request);
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 2000))]);
  socket.destroy();
  return text;
}

test('an offered WebSocket subprotocol is not echoed back', async () => {
  const t = await startTestGateway();
  try {
    const head = await rawExchange(
      t.gw.port,
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n',
    );
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.doesNotMatch(head.toLowerCase(), /sec-websocket-protocol/);
  } finally {
    await t.close();
  }
});

test('public and admin ports share one set of header/request deadlines and a bound on admin sockets', async () => {
  const t = await startTestGateway();
  try {
    // The admin port answers like the public one: a request it cannot parse gets a 400 and a close.
    for (const port of [t.gw.port, t.gw.adminPort]) {
      const reply = await rawExchange(port, 'NOT HTTP\r\n\r\n');
      assert.match(reply, /^HTTP\/1\.1 400 /, `port ${port}`);
    }
  } finally {
    await t.close();
  }
  assert.deepEqual(
    { headersTimeout: HTTP_SERVER_LIMITS.headersTimeout, requestTimeout: HTTP_SERVER_LIMITS.requestTimeout },
    { headersTimeout: 10_000, requestTimeout: 30_000 },
  );
});

test('a request that missed its header deadline is answered 408, oversized headers 431, anything else 400', () => {
  const answer = (code: string | undefined): string => {
    const socket = new PassThrough();
    let out = '';
    socket.on('data', (c: Buffer) => (out += c.toString()));
    answerClientError(Object.assign(new Error('x'), { code }), socket);
    return out.split('\r\n')[0]!;
  };
  assert.equal(answer('ERR_HTTP_REQUEST_TIMEOUT'), 'HTTP/1.1 408 Request Timeout');
  assert.equal(answer('HPE_HEADER_OVERFLOW'), 'HTTP/1.1 431 Request Header Fields Too Large');
  assert.equal(answer('HPE_INVALID_METHOD'), 'HTTP/1.1 400 Bad Request');
});
