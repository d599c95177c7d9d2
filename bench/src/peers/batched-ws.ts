import { WebSocketServer, type WebSocket } from 'ws';
import { Redis } from 'ioredis';
import { announceReady, channelFromUrl, exitOnSignals, readPeerArgs, SUBSCRIBED_FRAME } from './peer-args.js';
import { batchPerTurn, Rooms } from './rooms.js';

/**
 * Diagnostic peer (not in the default run): the floor's batching (one `\n`-joined buffer per
 * channel per turn, shared by every subscriber) but written with `ws.send` per client, as a gateway
 * built on `ws` does. Its distance to the floor is what per-client framing through `ws` costs.
 */
const args = readPeerArgs(process.argv.slice(2));
const sub = new Redis({ port: args.redisPort, host: '127.0.0.1' });
const rooms = new Rooms<WebSocket>(sub);

batchPerTurn(sub, (channel, joined) => {
  const set = rooms.get(channel);
  if (set !== undefined) for (const ws of set) ws.send(joined, { binary: false });
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
