/**
 * The few MessagePack shapes that `@socket.io/redis-emitter` writes (strings, small ints, arrays and
 * maps), enough to publish a broadcast the way another Socket.IO node or an emitter would:
 * `[uid, {type:2, data:[event, payload], nsp:"/"}, {rooms:[…], flags:{}}]` on `socket.io#/#[room#]`.
 */
type Value = string | number | Value[] | { [k: string]: Value };

export function encodeMsgpack(value: Value): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(v: Value, out: Buffer[]): void {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    const n = b.length;
    if (n < 32) out.push(Buffer.from([0xa0 | n]));
    else if (n < 0x100) out.push(Buffer.from([0xd9, n]));
    else if (n < 0x10000) out.push(Buffer.from([0xda, n >> 8, n & 0xff]));
    else throw new RangeError('string too long for this encoder');
    out.push(b);
  } else if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 127) throw new RangeError('only small non-negative ints');
    out.push(Buffer.from([v]));
  } else if (Array.isArray(v)) {
    if (v.length > 15) throw new RangeError('array too long for this encoder');
    out.push(Buffer.from([0x90 | v.length]));
    for (const x of v) write(x, out);
  } else {
    const keys = Object.keys(v);
    if (keys.length > 15) throw new RangeError('map too large for this encoder');
    out.push(Buffer.from([0x80 | keys.length]));
    for (const k of keys) {
      write(k, out);
      write(v[k]!, out);
    }
  }
}

/** The Redis channel and message a Socket.IO emitter publishes for `io.to(room).emit(event, payload)`. */
export function socketIoBroadcast(event: string, payload: string, room: string | undefined): { channel: string; message: Buffer } {
  return {
    channel: room === undefined ? 'socket.io#/#' : `socket.io#/#${room}#`,
    message: encodeMsgpack(['emitter', { type: 2, data: [event, payload], nsp: '/' }, { rooms: room === undefined ? [] : [room], flags: {} }]),
  };
}
