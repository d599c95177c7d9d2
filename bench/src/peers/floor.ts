import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { announceReady, channelFromUrl, exitOnSignals, readPeerArgs, SUBSCRIBED_FRAME } from './peer-args.js';
import { batchPerTurn, Rooms } from './rooms.js';

/**
 * The floor: what fan-out costs with nothing else. One Redis subscription per channel; the messages
 * of one event-loop turn are joined by `\n`, framed once as one WebSocket text frame, and that one
 * buffer is written to every subscriber (one write per socket per turn). No per-client state beyond
 * the socket, no queues, no slow-consumer policy, no protocol: it is a lower bound, not a product.
 */
const args = readPeerArgs(process.argv.slice(2));
const sub = new Redis({ port: args.redisPort, host: '127.0.0.1' });
const rooms = new Rooms<Socket>(sub);

function frame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x81, 126, n >> 8, n & 0xff]) : Buffer.alloc(10);
  if (n >= 0x10000) {
    head[0] = 0x81;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

batchPerTurn(sub, (channel, joined) => {
  const set = rooms.get(channel);
  if (set === undefined || set.size === 0) return;
  const buf = frame(joined);
  for (const socket of set) socket.write(buf);
});

const server = createServer((_req, res) => res.writeHead(426).end());
server.on('upgrade', (req, socket: Socket) => {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string') {
    socket.destroy();
    return;
  }
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.setNoDelay(true);
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.on('error', () => socket.destroy());
  socket.on('data', () => undefined); // clients send nothing the floor acts on
  void rooms.join(channelFromUrl(req.url), socket, () => socket.destroyed).then((set) => {
    if (set === undefined) return;
    socket.on('close', () => set.delete(socket));
    socket.write(frame(Buffer.from(SUBSCRIBED_FRAME)));
  });
});
server.listen(args.port, '127.0.0.1', () => announceReady(args.port));
exitOnSignals(() => {
  server.close();
  sub.disconnect();
});
