import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createHash } from 'node:crypto';
import { createHistogram } from 'node:perf_hooks';
import { BenchClient, type ClientProtocol, type Tally } from '../src/loadgen/ws-client.js';

// Every system's clients must hold the same TCP conversation: the kernel delays a connection's
// ACKs once its side has sent data, and over loopback the ACK work lands on whichever core the
// peer runs on, so a client that never speaks makes its server look cheaper per delivery. The
// load generator's client therefore sends its subscribe to every plain-WebSocket server, not only
// to Megaphone (the peers take the channel from the path and ignore the frame).

/** The unmasked text frames a client sent after the upgrade, in order. */
function textFrames(bytes: Buffer): string[] {
  const out: string[] = [];
  let pos = 0;
  while (pos + 2 <= bytes.length) {
    const len = bytes[pos + 1]! & 0x7f;
    assert.ok(len < 126, 'small frames only in this test');
    const maskAt = pos + 2;
    const mask = bytes.subarray(maskAt, maskAt + 4);
    const payload = Buffer.from(bytes.subarray(maskAt + 4, maskAt + 4 + len)).map((b, i) => b ^ mask[i % 4]!);
    if ((bytes[pos]! & 0x0f) === 1) out.push(Buffer.from(payload).toString('utf8'));
    pos = maskAt + 4 + len;
  }
  return out;
}

async function conversation(protocol: ClientProtocol): Promise<string[]> {
  let received = Buffer.alloc(0);
  const sockets: Duplex[] = [];
  const server: Server = createServer();
  server.on('upgrade', (req, socket: Duplex) => {
    sockets.push(socket);
    const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    // What every server under test answers once subscribed (the client is ready on it).
    const subscribed = Buffer.from('{"op":"subscribed","channel":"bench"}');
    setTimeout(() => socket.write(Buffer.concat([Buffer.from([0x81, subscribed.length]), subscribed])), 50);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const tally: Tally = { delivered: 0, stalledDelivered: 0, frames: 0, disorder: 0, closed: 0, closeCodes: new Map(), latency: createHistogram() };
  const client = new BenchClient({ protocol, port: (server.address() as AddressInfo).port, path: '/ws?channel=bench', channel: 'bench' }, tally, false);
  try {
    await client.start(5000);
  } finally {
    client.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
  return textFrames(received);
}

for (const protocol of ['plain', 'megaphone'] as const) {
  test(`a ${protocol} client sends its subscribe right after the upgrade`, async () => {
    assert.deepEqual(await conversation(protocol), ['{"op":"subscribe","id":1,"channel":"bench"}']);
  });
}
