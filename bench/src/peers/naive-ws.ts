import { WebSocketServer, type WebSocket } from 'ws';
import { Redis } from 'ioredis';
import { announceReady, channelFromUrl, exitOnSignals, readPeerArgs, SUBSCRIBED_FRAME } from './peer-args.js';
import { Rooms } from './rooms.js';

/**
 * The naive design most tutorials show: one Redis subscription per channel and `ws.send` per client
 * per message. Every message costs one frame, one write and one syscall per client.
 */
const args = readPeerArgs(process.argv.slice(2));
const sub = new Redis({ port: args.redisPort, host: '127.0.0.1' });
const rooms = new Rooms<WebSocket>(sub);

sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
  const set = rooms.get(channel.toString());
  if (set === undefined) return;
  for (const ws of set) ws.send(message, { binary: false });
});

const wss = new WebSocketServer({ host: '127.0.0.1', port: args.port, perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  void rooms.join(channelFromUrl(req.url), ws, () => ws.readyState !== ws.OPEN).then((set) => {
    if (set === undefined) return;
    ws.on('close', () => set.delete(ws));
    ws.send(SUBSCRIBED_FRAME);
  });
  ws.on('error', () => ws.terminate());
});
wss.on('listening', () => announceReady(args.port));
exitOnSignals(() => {
  wss.close();
  sub.disconnect();
});
