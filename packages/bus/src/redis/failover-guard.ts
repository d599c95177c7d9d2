import { Cluster, type Redis } from 'ioredis';
import type { Logger } from '@megaphone/runtime';
import { BusUnavailableError } from '../bus.js';
import { keySlot } from './keys.js';
import { dropSocket } from './watchdog.js';

export interface FailoverGuardOptions {
  logger: Logger;
  /** The current connection's guard became known: readiness may have changed. */
  known(): void;
}

/**
 * The failover guard every publish and history script carries (scripts.ts, ARGV "guard"): the
 * replication id of the master that runs it. It changes on failover and restart, exactly when the
 * master may have lost acknowledged writes, and a channel whose meta was written under another id
 * starts a new epoch instead of reusing offsets.
 *
 * Standalone/Sentinel: one master, the command connection's; its id is read on every ready, and the
 * bus is not ready until it is known (a publish must not run under the previous master's id).
 * Cluster: one id per master, read lazily the first time a slot it owns is used and forgotten when
 * its connection closes; the bus never waits for it.
 */
export class FailoverGuard {
  private guard = '';
  /** False until the guard of the current command connection is known (always true on Cluster). */
  private current: boolean;
  /** Counts command-connection readies, so a slow guard read from an older connection is ignored. */
  private generation = 0;
  /** Cluster: the guard per master, by node key, fetched lazily and dropped on disconnect. */
  private readonly nodeGuards = new Map<string, Promise<string>>();

  constructor(
    private readonly cmd: Redis | Cluster,
    private readonly opts: FailoverGuardOptions,
  ) {
    this.current = cmd instanceof Cluster;
    if (cmd instanceof Cluster) {
      cmd.on('+node', (node: Redis) => {
        const key = nodeKey(node);
        node.on('close', () => this.nodeGuards.delete(key));
      });
      cmd.on('-node', (node: Redis) => this.nodeGuards.delete(nodeKey(node)));
    }
  }

  /** Whether a script may run on the command connection now (always on Cluster). */
  isKnown(): boolean {
    return this.current;
  }

  /** The command connection became ready: learn its master's id before publishing there. */
  connected(): void {
    this.generation++;
    if (!(this.cmd instanceof Cluster)) void this.read(this.cmd, this.generation);
  }

  /** The command connection closed: whatever it reconnects to may be another master. */
  disconnected(): void {
    if (!(this.cmd instanceof Cluster)) this.current = false;
  }

  /** The guard for a channel's script: the replication id of the master that will run it. */
  async forKey(metaKey: string): Promise<string> {
    if (!(this.cmd instanceof Cluster)) return this.guard;
    const owner = this.cmd.slots[keySlot(metaKey)]?.[0];
    const node = owner === undefined ? undefined : this.cmd.nodes('master').find((n) => nodeKey(n) === owner);
    if (owner === undefined || node === undefined) throw new BusUnavailableError('the Redis Cluster slot map is not known yet');
    let guard = this.nodeGuards.get(owner);
    if (guard === undefined) {
      guard = readReplicationId(node);
      this.nodeGuards.set(owner, guard);
      guard.catch(() => this.nodeGuards.delete(owner));
    }
    return guard;
  }

  private async read(conn: Redis, generation: number): Promise<void> {
    try {
      const guard = await readReplicationId(conn);
      if (generation !== this.generation || conn.status !== 'ready') return;
      this.guard = guard;
      this.current = true;
      this.opts.known();
    } catch (err) {
      if (generation !== this.generation) return;
      this.opts.logger.warn({ err: (err as Error).message }, 'could not read the master replication id; reconnecting');
      if (conn.status === 'ready') dropSocket(conn);
    }
  }
}

function nodeKey(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/** A master's `master_replid`; fails on a replica. */
async function readReplicationId(conn: Redis): Promise<string> {
  const info = await conn.info('replication');
  const replid = /^master_replid:(\w+)/m.exec(info)?.[1];
  if (replid === undefined || !/^role:master/m.test(info)) throw new Error('not a master');
  return replid;
}
