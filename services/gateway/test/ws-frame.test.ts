// The gateway writes pre-framed text frames to the socket ws owns (src/ws/ws-frame.ts). These tests pin
// down what that relies on in ws, so that a ws upgrade that changes it fails here, loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createConnection, type AddressInfo, type Socket } from 'node:net';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { frameHeader, textFrame } from '../src/ws/ws-frame.js';

interface Pair {
  server: Server;
  serverWs: WebSocket;
  socket: Socket;
  client: WebSocket;
  clientSocket: () => Socket;
  received: Array<{ kind: 'text' | 'ping' | 'close'; value: string | number }>;
}

async function pair(): Promise<Pair> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const server = createServer();
  const accepted = new Promise<{ ws: WebSocket; socket: Socket }>((resolve) => {
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => resolve({ ws, socket: socket as Socket })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  let raw: Socket | undefined;
  const options: ClientOptions = {
    createConnection: (opts) => (raw = createConnection(opts as { port: number; host: string })),
  };
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, options);
  const received: Pair['received'] = [];
  client.on('message', (data, isBinary) => {
    assert.equal(isBinary, false, 'a text frame');
    received.push({ kind: 'text', value: String(data) });
  });
  client.on('ping', () => received.push({ kind: 'ping', value: 0 }));
  client.on('close', (code) => received.push({ kind: 'close', value: code }));
  await once(client, 'open');
  const { ws, socket } = await accepted;
  return { server, serverWs: ws, socket, client, clientSocket: () => raw!, received };
}

function writeDirect(socket: Socket, chunk: Buffer): void {
  const frame = textFrame(chunk);
  if (frame !== undefined) socket.write(frame);
  else {
    socket.cork();
    socket.write(frameHeader(chunk.length));
    socket.write(chunk);
    socket.uncork();
  }
}

test('pre-framed writes and ws’s own frames (send, ping, close) arrive intact and in call order', async () => {
  const p = await pair();
  try {
    const sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000];
    const expected: Pair['received'] = [];
    for (const size of sizes) {
      const text = 'é'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2); // multi-byte UTF-8
      const chunk = Buffer.from(text);
      writeDirect(p.socket, chunk);
      writeDirect(p.socket, chunk); // the cached frame, written again
      expected.push({ kind: 'text', value: text }, { kind: 'text', value: text });
      p.serverWs.send(`ws-${size}`);
      expected.push({ kind: 'text', value: `ws-${size}` });
      p.serverWs.ping();
      expected.push({ kind: 'ping', value: 0 });
    }
    p.serverWs.close(1000);
    expected.push({ kind: 'close', value: 1000 });
    await once(p.client, 'close');
    assert.equal(p.received.length, expected.length);
    assert.deepEqual(p.received, expected);
  } finally {
    p.client.terminate();
    p.server.close();
  }
});

test('ws queues nothing of its own without compression, and bufferedAmount counts the socket’s buffer', async () => {
  const p = await pair();
  try {
    p.clientSocket().pause();
    const chunk = Buffer.alloc(100_000, 0x61);
    // Fill the kernel buffers so that the socket starts buffering in user space.
    for (let i = 0; p.socket.writableLength === 0; i++) {
      assert.ok(i < 1000, 'the paused client stopped the socket within 100 MB');
      writeDirect(p.socket, chunk);
      await new Promise((r) => setImmediate(r));
    }
    const before = p.socket.writableLength;
    assert.equal(p.serverWs.bufferedAmount, before, 'bufferedAmount is the socket buffer (our direct writes included)');
    p.serverWs.send(chunk);
    assert.ok(p.socket.writableLength > before + chunk.length, 'ws.send went straight to the socket, not to a queue of its own');
    assert.equal(p.serverWs.bufferedAmount, p.socket.writableLength, 'and nothing is held inside ws');
  } finally {
    p.client.terminate();
    p.serverWs.terminate();
    p.server.close();
  }
});

test('frame headers follow RFC 6455 for every length class', () => {
  assert.deepEqual([...frameHeader(0)], [0x81, 0]);
  assert.deepEqual([...frameHeader(125)], [0x81, 125]);
  assert.deepEqual([...frameHeader(126)], [0x81, 126, 0, 126]);
  assert.deepEqual([...frameHeader(65_535)], [0x81, 126, 0xff, 0xff]);
  assert.deepEqual([...frameHeader(65_536)], [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  assert.equal(textFrame(Buffer.alloc(20_000)), undefined, 'large chunks are not copied');
});
