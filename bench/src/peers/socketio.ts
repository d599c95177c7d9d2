import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { announceReady, exitOnSignals, readPeerArgs } from './peer-args.js';

/**
 * Socket.IO 4.8 with `@socket.io/redis-adapter`, as a cluster node: publications arrive from Redis
 * in the emitter's format (another node or `@socket.io/redis-emitter` publishing) and the adapter
 * broadcasts them to the local sockets, one packet encode and one `ws.send` per socket.
 */
const args = readPeerArgs(process.argv.slice(2));
const pub = new Redis({ port: args.redisPort, host: '127.0.0.1' });
const sub = pub.duplicate();
const io = new Server({ transports: ['websocket'], serveClient: false, perMessageDeflate: false });
io.adapter(createAdapter(pub, sub));
io.on('connection', (socket) => {
  const channel = socket.handshake.query['channel'];
  if (typeof channel === 'string' && channel !== 'bench') void socket.join(channel);
});
const http = createServer();
io.attach(http);
void Promise.all([pub.ping(), sub.ping()]).then(() => http.listen(args.port, '127.0.0.1', () => announceReady(args.port)));
exitOnSignals(() => {
  void io.close();
  pub.disconnect();
  sub.disconnect();
});
