/**
 * Redis names of one Megaphone channel. All share the hash tag `{prefix:channel}`, so they live in
 * one Cluster slot: the publish script touches them atomically and SPUBLISH stays on that shard.
 */
export interface ChannelKeys {
  /** Hash: `e` epoch, `o` latest offset, `r` failover guard (scripts.ts). */
  meta: string;
  /** Stream: the channel's history, one entry per publication (`o` offset, `t` time, `f` frame). */
  stream: string;
  /** Pub/sub (sharded on Cluster) channel carrying live publications. */
  pubsub: string;
}

export function channelKeys(prefix: string, channel: string): ChannelKeys {
  const tag = `{${prefix}:${channel}}`;
  return { meta: `${tag}:m`, stream: `${tag}:s`, pubsub: `${tag}:p` };
}

/**
 * The pub/sub channel every node listens on for control messages (Bus.publishControl). Its hash
 * tag is the prefix alone, which no Megaphone channel's tag can equal (those are `{prefix:…}`); on
 * Cluster it is one sharded channel on the master that owns that slot.
 */
export function controlPubsub(prefix: string): string {
  return `{${prefix}}:control`;
}

/** The Megaphone channel of a pub/sub channel name, or undefined if it is not one of ours. */
export function channelOfPubsub(prefix: string, pubsub: string): string | undefined {
  const head = `{${prefix}:`;
  if (!pubsub.startsWith(head) || !pubsub.endsWith('}:p')) return undefined;
  return pubsub.slice(head.length, -3);
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** Redis Cluster hash slot of a key (CRC16/XMODEM of its hash tag, mod 16384). */
export function keySlot(key: string): number {
  let s = key;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) s = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(s, 'utf8')) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc % 16384;
}

/** Redis names of one lease (lease.ts); one hash tag, so its scripts run on one Cluster slot. */
export interface LeaseKeys {
  /** String `<fence> <owner>` with the lease's expiry. */
  lease: string;
  /** The last fencing number granted. */
  fence: string;
  /** Hash: the holder's records. */
  records: string;
}

export function leaseKeys(prefix: string, name: string): LeaseKeys {
  // `#` appears in no channel name, so a lease can never share a tag with a channel.
  const tag = `{${prefix}#lease:${name}}`;
  return { lease: `${tag}:l`, fence: `${tag}:f`, records: `${tag}:r` };
}
