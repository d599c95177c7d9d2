import { WebSocketServer, type WebSocket } from 'ws';
import { Redis } from 'ioredis';
import { announceReady, channelFromUrl, exitOnSignals, readPeerArgs, SUBSCRIBED_FRAME } from './peer-args.js';

/**
 * Diagnostic peer (not in the default run): the floor's batching (one `\n`-joined buffer per
 * channel per turn, shared by every subscriber) but written with `ws.send` per client, as a gateway
 * built on `ws` does. Its distance to the floor is what per-client framing through `ws` costs.
 */
const args = readPeerArgs(process.argv.slice(2));
const sub = new Redis({ port: args.redisPort, host: '127.0.0.1' });
const rooms = new Map<string, Set<WebSocket>>();
const subscribing = new Map<string, Promise<unknown>>();
const pending = new Map<string, Buffer[]>();
let flushScheduled = false;
const NL = Buffer.from('\n');

function flush(): void {
  flushScheduled = false;
  for (const [channel, messages] of pending) {
    const set = rooms.get(channel);
    if (set === undefined || set.size === 0) continue;
    const parts: Buffer[] = [];
    for (const m of messages) {
      if (parts.length > 0) parts.push(NL);
      parts.push(m);
    }
    const buf = Buffer.concat(parts);
    for (const ws of set) ws.send(buf, { binary: false });
  }
  pending.clear();
}

sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
  const name = channel.toString();
  let list = pending.get(name);
  if (list === undefined) pending.set(name, (list = []));
  list.push(message);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
});

const wss = new WebSocketServer({ host: '127.0.0.1', port: args.port, perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  const channel = channelFromUrl(req.url);
  let p = subscribing.get(channel);
  if (p === undefined) {
    p = sub.subscribe(channel);
    subscribing.set(channel, p);
  }
  void p.then(() => {
    if (ws.readyState !== ws.OPEN) return;
    let set = rooms.get(channel);
    if (set === undefined) rooms.set(channel, (set = new Set()));
    set.add(ws);
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
