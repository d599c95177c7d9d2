// The gateway writes frames to a plain TCP socket's handle directly (src/ws/direct-write.ts). These
// tests pin down what that relies on in Node, on real loopback sockets, so that a Node upgrade that
// changes it fails here, loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { BUSY, directWrites, FAILED, QUEUED, WROTE, type DirectWriteOwner } from '../src/ws/direct-write.js';

const direct = directWrites!;

/** Direct writes as the gateway makes them: the socket's target read once (when it opens), then written. */
function writer(socket: Socket): (buf: Buffer, owner: DirectWriteOwner) => number {
  const target = direct.target(socket);
  assert.ok(target !== undefined, 'a plain TCP socket');
  return (buf, owner) => direct.write(target.handle, target.state, socket, buf, owner);
}

interface Pair {
  server: Server;
  /** The accepted side, written to. */
  socket: Socket;
  /** The connecting side, read from. */
  peer: Socket;
}

async function pair(): Promise<Pair> {
  const server = createServer();
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const peer = createConnection((server.address() as AddressInfo).port, '127.0.0.1');
  const [[socket]] = await Promise.all([accepted, once(peer, 'connect')]);
  return { server, socket, peer };
}

function close(p: Pair): void {
  p.socket.destroy();
  p.peer.destroy();
  p.server.close();
}

/** Everything the peer reads until it ends or `bytes` have arrived. */
function readAll(peer: Socket, bytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  return new Promise((resolve, reject) => {
    const done = (): void => resolve(Buffer.concat(parts));
    peer.on('data', (d: Buffer) => {
      parts.push(d);
      n += d.length;
      if (n >= bytes) done();
    });
    peer.on('end', done);
    peer.on('error', reject);
    peer.resume();
  });
}

class Owner implements DirectWriteOwner {
  readonly done: number[] = [];
  private wake: (() => void) | undefined;
  directWriteDone(status: number): void {
    this.done.push(status);
    this.wake?.();
  }
  async next(): Promise<number> {
    while (this.done.length === 0) await new Promise<void>((r) => (this.wake = r));
    return this.done[this.done.length - 1]!;
  }
}

/** Writes `size`-byte buffers of `fill` until one is queued (the paused peer's buffers are full). */
function fillUntilQueued(write: ReturnType<typeof writer>, owner: Owner, fill: number, size = 1 << 20): Buffer[] {
  const written: Buffer[] = [];
  for (let i = 0; i < 256; i++) {
    const buf = Buffer.alloc(size, fill + i);
    const result = write(buf, owner);
    assert.ok(result === WROTE || result === QUEUED, `a direct write to an idle socket goes out (got ${result})`);
    written.push(buf);
    if (result === QUEUED) return written;
  }
  throw new Error('256 MiB went out to a paused peer: the kernel never pushed back');
}

test('this Node has the handle-level write, for plain TCP sockets only', async (t) => {
  assert.ok(directWrites !== undefined, 'process.binding("stream_wrap") and TCP.prototype.writeBuffer as expected');
  const p = await pair();
  t.after(() => close(p));
  assert.notEqual(direct.target(p.socket), undefined, 'an accepted TCP socket');
  const tls = new TLSSocket(p.peer);
  t.after(() => tls.destroy());
  assert.equal(direct.target(tls), undefined, 'a TLS socket encrypts in its own handle');
  const dir = mkdtempSync(join(tmpdir(), 'direct-write-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pipeServer = createServer();
  await new Promise<void>((r) => pipeServer.listen(join(dir, 's.sock'), r));
  const pipe = createConnection(join(dir, 's.sock'));
  await once(pipe, 'connect');
  t.after(() => {
    pipe.destroy();
    pipeServer.close();
  });
  assert.equal(direct.target(pipe), undefined, 'a Unix socket is not TCP');
});

test('a frame the kernel takes whole is written at once, with no completion to wait for', async (t) => {
  const p = await pair();
  t.after(() => close(p));
  const write = writer(p.socket);
  const owner = new Owner();
  const frames = ['one', 'two', 'three'].map((s) => Buffer.from(s));
  const reading = readAll(p.peer, 11);
  for (const f of frames) assert.equal(write(f, owner), WROTE);
  assert.equal(p.socket.writableLength, 0, "Node's stream never saw the bytes");
  assert.equal((await reading).toString(), 'onetwothree');
  assert.deepEqual(owner.done, [], 'nothing was queued, so nothing completes later');
});

test('queued direct writes and socket.write reach the peer in call order', async (t) => {
  const p = await pair();
  t.after(() => close(p));
  const write = writer(p.socket);
  p.peer.pause();
  const owner = new Owner();
  const direct1 = fillUntilQueued(write, owner, 1);
  // libuv holds the rest of the last buffer: Node's write goes behind it, and while Node's stream
  // is writing, a direct write steps aside.
  const viaNode = Buffer.alloc(100_000, 0xee);
  p.socket.write(viaNode);
  assert.equal(write(Buffer.from('x'), owner), BUSY, "Node's stream holds data");
  const total = direct1.reduce((a, b) => a + b.length, 0) + viaNode.length;
  const got = await readAll(p.peer, total);
  assert.equal(got.length, total);
  assert.ok(got.equals(Buffer.concat([...direct1, viaNode])), 'byte for byte, in call order');
  assert.equal(await owner.next(), 0, 'the queued write completed');
  await new Promise<void>((r) => (p.socket.writableLength === 0 ? r() : p.socket.once('drain', r)));
  assert.equal(write(Buffer.from('after'), owner), WROTE, 'idle again: direct');
});

test('end() after a queued direct write delivers every byte before the FIN', async (t) => {
  const p = await pair();
  t.after(() => close(p));
  const write = writer(p.socket);
  p.peer.pause();
  const owner = new Owner();
  const written = fillUntilQueued(write, owner, 7);
  p.socket.end(Buffer.from('last'));
  assert.equal(write(Buffer.from('x'), owner), BUSY, 'an ending socket is left to Node');
  const got = await readAll(p.peer, Infinity);
  assert.ok(got.equals(Buffer.concat([...written, Buffer.from('last')])), 'all of it, then the end');
  assert.equal(await owner.next(), 0);
});

test("a queued direct write cancelled by the socket's destruction completes with an error status", async (t) => {
  const p = await pair();
  t.after(() => close(p));
  const write = writer(p.socket);
  p.peer.pause();
  const owner = new Owner();
  fillUntilQueued(write, owner, 3);
  p.socket.destroy();
  assert.ok((await owner.next()) < 0, 'cancelled');
  assert.equal(write(Buffer.from('x'), owner), BUSY, 'a destroyed socket is left to Node');
});

test('a write to a reset connection fails and destroys the socket with the error', async (t) => {
  const p = await pair();
  t.after(() => close(p));
  const write = writer(p.socket);
  // Not reading: the reset is seen by the write, not by a read.
  p.socket.pause();
  const errors: NodeJS.ErrnoException[] = [];
  p.socket.on('error', (err) => errors.push(err));
  p.peer.resetAndDestroy();
  await once(p.peer, 'close');
  const owner = new Owner();
  let result: number = WROTE;
  for (let i = 0; i < 100 && result === WROTE; i++) {
    result = write(Buffer.from('after the reset'), owner);
    if (result === WROTE) await new Promise((r) => setTimeout(r, 10)); // retry: the RST is in flight
  }
  assert.equal(result, FAILED);
  assert.equal(p.socket.destroyed, true);
  await new Promise((r) => p.socket.once('close', r)); // (once() would reject on the 'error')
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.code ?? '', /^(EPIPE|ECONNRESET)$/);
});
