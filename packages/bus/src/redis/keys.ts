import calculateSlot from 'cluster-key-slot';

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

/** Redis Cluster hash slot of a key (CRC16 of its hash tag, mod 16384): ioredis' own `cluster-key-slot`. */
export function keySlot(key: string): number {
  return calculateSlot(key);
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
