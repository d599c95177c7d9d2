import { HOST } from '../ports.js';
import { waitFor } from '../wait.js';
import { RedisServer, parseInfo } from './process.js';

export interface RedisSentinelOptions {
  /** The monitored master's name (`REDIS_SENTINEL_NAME`). */
  name?: string;
  /** `down-after-milliseconds`: how long a silent master takes to be declared down. */
  downAfterMs?: number;
}

/** One master, one replica and three Sentinels (quorum 2). */
export class RedisSentinelGroup {
  private constructor(
    readonly name: string,
    /** Data nodes; which one is master changes with failovers (see `currentMaster`). */
    readonly servers: RedisServer[],
    readonly sentinels: RedisServer[],
  ) {}

  static async start(opts: RedisSentinelOptions = {}): Promise<RedisSentinelGroup> {
    const name = opts.name ?? 'megaphone';
    const downAfter = opts.downAfterMs ?? 1000;
    const servers: RedisServer[] = [];
    const sentinels: RedisServer[] = [];
    try {
      const master = await RedisServer.start({ args: ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'] });
      servers.push(master);
      servers.push(
        await RedisServer.start({ args: ['--replicaof', HOST, String(master.port), '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'] }),
      );
      await waitFor('the replica to sync', async () => (await servers[1]!.info('replication')).master_link_status === 'up');
      const config = [
        `sentinel monitor ${name} ${HOST} ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} ${downAfter}`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
      ].join('\n');
      for (let i = 0; i < 3; i++) sentinels.push(await RedisServer.start({ sentinelConfig: config }));
      const group = new RedisSentinelGroup(name, servers, sentinels);
      await group.waitSettled();
      return group;
    } catch (err) {
      await Promise.all([...sentinels, ...servers].map((s) => s.close()));
      throw err;
    }
  }

  /** `REDIS_SENTINELS` host:port list. */
  get sentinelAddresses(): { host: string; port: number }[] {
    return this.sentinels.map((s) => ({ host: s.host, port: s.port }));
  }

  /** The port every Sentinel currently names as master. */
  async masterPort(sentinel = this.sentinels[0]!): Promise<number> {
    const out = await sentinel.cli('SENTINEL', 'get-master-addr-by-name', this.name);
    return Number(out.split('\n')[1]);
  }

  async currentMaster(): Promise<RedisServer> {
    const port = await this.masterPort();
    const s = this.servers.find((x) => x.port === port);
    if (!s) throw new Error(`Sentinel names an unknown master port ${port}`);
    return s;
  }

  /**
   * Waits until every Sentinel agrees on one master that says it is master, knows the replica and
   * the other Sentinels, and the replica is in sync: the state in which a failover can happen.
   */
  async waitSettled(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'Sentinels to agree on a healthy master with a synced replica',
      async () => {
        const ports = await Promise.all(this.sentinels.map((s) => this.masterPort(s)));
        if (new Set(ports).size !== 1) return false;
        const master = this.servers.find((x) => x.port === ports[0]);
        if (!master || !master.running) return false;
        if ((await master.info('replication')).role !== 'master') return false;
        for (const s of this.sentinels) {
          const m = parseFlat(await s.cli('SENTINEL', 'master', this.name));
          if (m.flags !== 'master' || Number(m['num-slaves']) < 1 || Number(m['num-other-sentinels']) < 2) return false;
          const replicas = await s.cli('SENTINEL', 'replicas', this.name);
          if (/s_down|o_down|disconnected/.test(replicas)) return false;
        }
        for (const r of this.servers) {
          if (r === master || !r.running) continue;
          const info = await r.info('replication');
          if (info.role !== 'slave' || info.master_link_status !== 'up' || info.master_port !== String(master.port)) return false;
        }
        return true;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }

  /**
   * Forces a failover and waits for the replica to become master. `command` asks a Sentinel
   * (`SENTINEL FAILOVER`); `kill` SIGKILLs the master and lets the Sentinels detect it (the old
   * master stays down; `restartOld` brings it back empty as a replica).
   */
  async failover(how: 'command' | 'kill' = 'command', { restartOld = true, timeoutMs = 30_000 } = {}): Promise<{ from: RedisServer; to: RedisServer }> {
    const from = await this.currentMaster();
    if (how === 'command') await this.sentinels[0]!.cli('SENTINEL', 'FAILOVER', this.name);
    else await from.kill();
    await waitFor(
      'a new master after failover',
      async () => {
        const ports = await Promise.all(this.sentinels.map((s) => this.masterPort(s)));
        if (!ports.every((p) => p !== from.port && p === ports[0])) return false;
        const to = this.servers.find((x) => x.port === ports[0]);
        return to !== undefined && (await to.info('replication')).role === 'master';
      },
      { timeoutMs, intervalMs: 100 },
    );
    const to = await this.currentMaster();
    if (how === 'kill' && restartOld) await from.restart();
    if (how === 'command' || restartOld) await this.waitSettled(timeoutMs);
    return { from, to };
  }

  async close(): Promise<void> {
    await Promise.all(this.sentinels.map((s) => s.close()));
    await Promise.all(this.servers.map((s) => s.close()));
  }
}

/** `redis-cli` prints a flat map reply as alternating key/value lines. */
function parseFlat(text: string): Record<string, string> {
  const lines = text.split('\n');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) out[lines[i]!] = lines[i + 1]!;
  return out;
}
