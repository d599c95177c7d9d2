import type { Redis } from 'ioredis';

/**
 * What the naive, batched and floor peers share: channel → subscribers, with one Redis subscription
 * per channel taken when the first subscriber joins.
 */
export class Rooms<T> {
  private readonly rooms = new Map<string, Set<T>>();
  private readonly subscribing = new Map<string, Promise<unknown>>();

  constructor(private readonly sub: Redis) {}

  get(channel: string): Set<T> | undefined {
    return this.rooms.get(channel);
  }

  /**
   * Adds `member` once the channel's Redis subscription is live. Resolves to the room (so the caller
   * can remove the member when it closes), or undefined when the member went away meanwhile.
   */
  async join(channel: string, member: T, isGone: () => boolean): Promise<Set<T> | undefined> {
    let pending = this.subscribing.get(channel);
    if (pending === undefined) {
      pending = this.sub.subscribe(channel);
      this.subscribing.set(channel, pending);
    }
    await pending;
    if (isGone()) return undefined;
    let set = this.rooms.get(channel);
    if (set === undefined) this.rooms.set(channel, (set = new Set()));
    set.add(member);
    return set;
  }
}

const NL = Buffer.from('\n');

/**
 * Collects the messages of one event-loop turn per channel and hands each channel's messages to
 * `deliver` once, joined by `\n` (the per-turn batching the floor and the batched peer measure).
 */
export function batchPerTurn(sub: Redis, deliver: (channel: string, joined: Buffer) => void): void {
  const pending = new Map<string, Buffer[]>();
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    for (const [channel, messages] of pending) {
      const parts: Buffer[] = [];
      for (const m of messages) {
        if (parts.length > 0) parts.push(NL);
        parts.push(m);
      }
      deliver(channel, Buffer.concat(parts));
    }
    pending.clear();
  };
  sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    const name = channel.toString();
    let list = pending.get(name);
    if (list === undefined) pending.set(name, (list = []));
    list.push(message);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}
