import type { RedisServer } from '@megaphone/testing';

export interface ChannelSubscriptions {
  /** The Redis pub/sub channel(s) that carry this Megaphone channel. */
  redisChannels: string[];
  /** Subscribers per Redis channel, classic (`PUBSUB NUMSUB`) and sharded (`PUBSUB SHARDNUMSUB`). */
  counts: number[];
}

/**
 * How many Redis subscriptions carry a Megaphone channel, found without knowing the bus's key
 * naming: every active Redis pub/sub channel (classic or sharded) whose name contains it.
 */
export async function subscriptionsFor(server: RedisServer, channel: string): Promise<ChannelSubscriptions> {
  const out: ChannelSubscriptions = { redisChannels: [], counts: [] };
  for (const [list, numsub] of [['CHANNELS', 'NUMSUB'], ['SHARDCHANNELS', 'SHARDNUMSUB']] as const) {
    const names = (await server.cli('PUBSUB', list)).split('\n').filter((n) => n.length > 0 && containsChannel(n, channel));
    for (const name of names) {
      const reply = (await server.cli('PUBSUB', numsub, name)).split('\n');
      out.redisChannels.push(`${list === 'CHANNELS' ? '' : 'shard:'}${name}`);
      out.counts.push(Number(reply[1]));
    }
  }
  return out;
}

/** `mp:{news}:pub` contains `news` but `mp:{news2}` does not: the name must be delimited. */
function containsChannel(redisName: string, channel: string): boolean {
  const i = redisName.indexOf(channel);
  if (i < 0) return false;
  const before = redisName[i - 1];
  const after = redisName[i + channel.length];
  const delimiter = (c: string | undefined) => c === undefined || !/[A-Za-z0-9_.-]/.test(c);
  return delimiter(before) && delimiter(after);
}
