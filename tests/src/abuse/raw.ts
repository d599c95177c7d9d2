import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

export const UPGRADE_HEAD = (port: number): string =>
  `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** What the server did with what a raw socket sent: its first bytes back and whether it closed. */
export interface RawOutcome {
  head: string;
  closed: boolean;
}

/** Opens a socket, writes `bytes`, and collects the answer for up to `waitMs` (or until the close). */
export async function rawSend(port: number, bytes: Buffer | string, waitMs: number): Promise<RawOutcome> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await Promise.race([once(socket, 'connect'), once(socket, 'close')]);
  return exchange(socket, bytes, waitMs);
}

/** A raw socket with a completed WebSocket handshake (the welcome frame may follow). */
export async function rawWebSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(UPGRADE_HEAD(port));
  let got = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (c: Buffer): void => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        socket.off('data', onData);
        if (got.startsWith('HTTP/1.1 101')) resolve();
        else reject(new Error(`upgrade refused: ${got.slice(0, 60)}`));
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed during the handshake')));
  });
  return socket;
}

export async function exchange(socket: Socket, bytes: Buffer | string, waitMs: number): Promise<RawOutcome> {
  let head = '';
  const onData = (c: Buffer): void => {
    if (head.length < 200) head += c.toString('latin1');
  };
  socket.on('data', onData);
  if (socket.writable) socket.write(bytes);
  const closed = await Promise.race([once(socket, 'close').then(() => true), new Promise<false>((r) => setTimeout(() => r(false), waitMs))]);
  socket.off('data', onData);
  socket.destroy();
  return { head: head.slice(0, 200), closed };
}

/** A client→server WebSocket frame built from fuzzed parts (masked unless told otherwise). */
export function wsFrame(parts: { fin: boolean; rsv: number; opcode: number; masked: boolean; length?: number | bigint; payload: Uint8Array }): Buffer {
  const len = parts.length ?? parts.payload.length;
  const b0 = (parts.fin ? 0x80 : 0) | ((parts.rsv & 7) << 4) | (parts.opcode & 0x0f);
  let header: Buffer;
  const maskBit = parts.masked ? 0x80 : 0;
  if (typeof len === 'bigint' || len > 0xffff) {
    header = Buffer.alloc(10);
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  } else if (len > 125) {
    header = Buffer.alloc(4);
    header[1] = maskBit | 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(2);
    header[1] = maskBit | len;
  }
  header[0] = b0;
  const payload = Buffer.from(parts.payload);
  if (!parts.masked) return Buffer.concat([header, payload]);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, payload]);
}
