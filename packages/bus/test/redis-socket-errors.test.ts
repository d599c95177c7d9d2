import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { absorbLateSocketErrors } from '../src/redis/watchdog.js';

// ioredis listens for its socket's first 'error' only; a TLS socket can emit another (the server's
// alert after a failed certificate check), which Node would throw, killing the process. This
// drives that case deterministically: a peer that resets the connection, then a second error on
// the same socket.
describe('a second error on a Redis client\'s socket', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((socket) => socket.resetAndDestroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  after(() => server.close());

  async function firstError(client: Redis): Promise<{ emit(event: 'error', err: Error): boolean }> {
    const stream = new Promise<{ emit(event: 'error', err: Error): boolean }>((resolve) => {
      client.once('error', () => resolve((client as unknown as { stream: { emit(event: 'error', err: Error): boolean } }).stream));
    });
    client.connect().catch(() => undefined);
    return stream;
  }

  it('is thrown without the guard (what the guard is for)', async () => {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false });
    client.on('error', () => undefined);
    try {
      const stream = await firstError(client);
      assert.throws(() => stream.emit('error', new Error('late alert')), /late alert/);
    } finally {
      client.disconnect();
    }
  });

  it('is absorbed with absorbLateSocketErrors, and the client still reports its first error', async () => {
    const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false });
    const seen: string[] = [];
    client.on('error', (err: Error) => seen.push(err.message));
    absorbLateSocketErrors(client);
    try {
      const stream = await firstError(client);
      assert.doesNotThrow(() => stream.emit('error', new Error('late alert')));
      assert.ok(seen.length >= 1 && !seen.includes('late alert'), `client errors: ${seen.join(', ')}`);
    } finally {
      client.disconnect();
    }
  });
});
