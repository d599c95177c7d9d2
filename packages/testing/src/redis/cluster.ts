import { execFile } from 'node:child_process';
import { HOST } from '../ports.js';
import { waitFor } from '../wait.js';
import { RedisServer, parseInfo } from './process.js';

export interface RedisClusterOptions {
  /** Masters; at least 3. */
  masters?: number;
  /** Replicas per master (default 0). */
  replicas?: number;
  /** `cluster-node-timeout` in ms (low so that tests of node restarts stay short). */
  nodeTimeoutMs?: number;
}

/** A Redis Cluster of N masters (and optionally replicas), created with `redis-cli --cluster create`. */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(opts: RedisClusterOptions = {}): Promise<RedisCluster> {
    const replicas = opts.replicas ?? 0;
    const count = (opts.masters ?? 3) * (1 + replicas);
    const args = [
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 2000),
      // A restarted empty master rejoins and serves its slots again; tests want writes back at once.
      '--cluster-require-full-coverage', 'no',
      '--cluster-allow-reads-when-down', 'yes',
      // Replicas sync at once (the default waits 5 s), so a replica can take over right after start.
      '--repl-diskless-sync', 'yes',
      '--repl-diskless-sync-delay', '0',
    ];
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < count; i++) nodes.push(await RedisServer.start({ args, clusterBus: true }));
      await new Promise<void>((resolve, reject) => {
        execFile(
          'redis-cli',
          ['--cluster', 'create', ...nodes.map((n) => `${HOST}:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
          { timeout: 30_000, encoding: 'utf8' },
          (err, stdout, stderr) => (err ? reject(new Error(`redis-cli --cluster create: ${err.message}\n${stdout}\n${stderr}`)) : resolve()),
        );
      });
      const cluster = new RedisCluster(nodes);
      await cluster.waitHealthy();
      return cluster;
    } catch (err) {
      await Promise.all(nodes.map((n) => n.close()));
      throw err;
    }
  }

  /** Seed nodes for `REDIS_CLUSTER_NODES` / ioredis `Cluster`. */
  get seeds(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: n.host, port: n.port }));
  }

  /** Waits for `cluster_state:ok` on every node, every node agreeing on all slots, every replica in sync. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'cluster_state:ok on every node',
      async () => {
        for (const n of this.nodes) {
          if (!n.running) return false;
          const info = parseInfo(await n.cli('CLUSTER', 'INFO'));
          if (info.cluster_state !== 'ok' || info.cluster_slots_assigned !== '16384' || info.cluster_slots_ok !== '16384') return false;
          if (Number(info.cluster_known_nodes) !== this.nodes.length) return false;
          const repl = await n.info('replication');
          if (repl.role === 'slave' && repl.master_link_status !== 'up') return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** The node serving a key's slot, as the cluster sees it. */
  async nodeForKey(key: string): Promise<RedisServer> {
    const first = this.nodes.find((n) => n.running);
    if (first === undefined) throw new Error('no cluster node is running');
    const slot = Number(await first.cli('CLUSTER', 'KEYSLOT', key));
    for (const line of (await first.cli('CLUSTER', 'NODES')).split('\n')) {
      const fields = line.trim().split(' ');
      const port = Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
      for (const range of fields.slice(8)) {
        const [a, b] = range.split('-').map(Number);
        if (a !== undefined && slot >= a && slot <= (b ?? a)) {
          const node = this.nodes.find((n) => n.port === port);
          if (node) return node;
        }
      }
    }
    throw new Error(`no node serves slot ${slot}`);
  }

  /**
   * `kill -9` a master and wait until one of its replicas has taken over its slots (the cluster's
   * own failover after `cluster-node-timeout`), then start the old master again: it rejoins as a
   * replica. Returns the new master.
   */
  async failoverMaster(master: RedisServer, timeoutMs = 30_000): Promise<RedisServer> {
    const probe = 'x';
    const key = await this.keyServedBy(master, probe);
    await master.kill();
    let promoted: RedisServer | undefined;
    await waitFor(
      'a replica to take over the killed master\'s slots',
      async () => {
        const survivor = this.nodes.find((n) => n.running)!;
        if (parseInfo(await survivor.cli('CLUSTER', 'INFO')).cluster_state !== 'ok') return false;
        const owner = await this.nodeForKey(key);
        if (owner === master) return false;
        promoted = owner;
        return true;
      },
      { timeoutMs, intervalMs: 100 },
    );
    await master.restart();
    await this.waitHealthy(timeoutMs);
    return promoted!;
  }

  /** A key whose slot `node` serves (found by trying `<prefix>0`, `<prefix>1`, …). */
  private async keyServedBy(node: RedisServer, prefix: string): Promise<string> {
    for (let i = 0; i < 10_000; i++) if ((await this.nodeForKey(`${prefix}${i}`)) === node) return `${prefix}${i}`;
    throw new Error(`no key found on port ${node.port}`);
  }

  /** `kill -9` a node and start it again on the same port with its cluster config but no data. */
  async restartNode(node: RedisServer, how: 'kill' | 'stop' = 'kill'): Promise<void> {
    if (how === 'kill') await node.kill();
    else await node.stop();
    await node.restart();
    await this.waitHealthy();
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
  }
}
