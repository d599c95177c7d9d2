import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '@megaphone/bus';
import { readGatewayConfig, startGateway, type GatewayHandle } from '@megaphone/gateway';
import { readProducerConfig, startProducer, type ProducerHandle } from '@megaphone/producer';
import { createLogger, historyPolicyFor } from '@megaphone/runtime';

export interface ConsoleStackOptions {
  /** The producer's jobs file (YAML); without one no producer runs (publish on `bus` directly). */
  jobsYaml?: string;
  /** Extra environment for both services (e.g. `HISTORY_SIZE`, `GATEWAY_HEARTBEAT_MS`). */
  env?: Record<string, string>;
  logLevel?: string;
}

/**
 * Producer and gateway in this process on one MemoryBus, as `npm start` runs them, on free ports.
 * The gateway can be stopped and started again on the same port while the producer (and the
 * bus with its history) keeps going: what a browser sees when its gateway restarts.
 */
export class ConsoleStack {
  private gateway: GatewayHandle | undefined;
  private generation = 0;

  private constructor(
    private readonly dir: string,
    readonly bus: MemoryBus,
    private readonly producerHandle: ProducerHandle | undefined,
    private readonly logLevel: string,
    private readonly env: Record<string, string>,
    private gatewayPort: number,
  ) {}

  static async start(opts: ConsoleStackOptions = {}): Promise<ConsoleStack> {
    const logLevel = opts.logLevel ?? 'warn';
    const env = opts.env ?? {};
    const dir = await mkdtemp(join(tmpdir(), 'megaphone-console-'));
    const common = readGatewayConfig({ ...env, GATEWAY_PORT: '0', GATEWAY_ADMIN_PORT: '0' });
    const bus = new MemoryBus({ history: historyPolicyFor(common.namespaces) });
    let producer: ProducerHandle | undefined;
    if (opts.jobsYaml !== undefined) {
      const jobsFile = join(dir, 'jobs.yaml');
      await writeFile(jobsFile, opts.jobsYaml);
      const producerConfig = readProducerConfig({
        ...env,
        NODE_NAME: 'producer-test',
        LOG_LEVEL: logLevel,
        PRODUCER_HOST: '127.0.0.1',
        PRODUCER_PORT: '0',
        PRODUCER_ADMIN_HOST: '127.0.0.1',
        PRODUCER_ADMIN_PORT: '0',
        PRODUCER_JOBS_FILE: jobsFile,
        PRODUCER_KILL_GRACE_MS: '500',
      });
      producer = await startProducer({
        config: producerConfig,
        bus,
        logger: createLogger({ level: logLevel, service: 'producer', node: 'producer-test' }),
      });
    }
    const stack = new ConsoleStack(dir, bus, producer, logLevel, env, 0);
    try {
      await stack.startGateway();
    } catch (err) {
      await stack.close();
      throw err;
    }
    return stack;
  }

  get producer(): ProducerHandle {
    if (this.producerHandle === undefined) throw new Error('this stack runs no producer');
    return this.producerHandle;
  }

  get port(): number {
    return this.gatewayPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.gatewayPort}/`;
  }

  /** The running gateway's admin port (operator API). */
  get adminPort(): number {
    if (this.gateway === undefined) throw new Error('no gateway running');
    return this.gateway.adminPort;
  }

  /** The node name of the gateway currently running (`gw-1`, `gw-2`, …). */
  get node(): string {
    return `gw-${this.generation}`;
  }

  /** Starts a gateway; after the first one, on the same port as before. */
  async startGateway(): Promise<void> {
    if (this.gateway !== undefined) throw new Error('gateway already running');
    this.generation++;
    const config = readGatewayConfig({
      LOG_LEVEL: this.logLevel,
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_ADMIN_HOST: '127.0.0.1',
      GATEWAY_ADMIN_PORT: '0',
      GATEWAY_DRAIN_MS: '0',
      ...this.env,
      NODE_NAME: this.node,
      GATEWAY_PORT: String(this.gatewayPort),
    });
    this.gateway = await startGateway({
      config,
      bus: this.bus,
      logger: createLogger({ level: this.logLevel, service: 'gateway', node: this.node }),
    });
    this.gatewayPort = this.gateway.port;
  }

  async stopGateway(): Promise<void> {
    const gw = this.gateway;
    this.gateway = undefined;
    await gw?.close();
  }

  /** Drains the running gateway (1001 with a retry hint to every client) and waits for it to end. */
  async drainGateway(): Promise<void> {
    const gw = this.gateway;
    this.gateway = undefined;
    await gw?.drain();
    await gw?.close();
  }

  async close(): Promise<void> {
    await this.stopGateway();
    await this.producerHandle?.close();
    await this.bus.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
