import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientProtocol } from './loadgen/ws-client.js';
import type { PublishVia } from './loadgen/messages.js';
import { captureOutput, freePort, LOAD_CORE, SERVER_CORE, spawnPinned, stopChild, waitForHttpOk, waitForOutput } from './processes.js';
import { SignJWT } from 'jose';
import { GATEWAY_BIN, GATEWAY_NODE_FLAGS } from '@megaphone/gateway';
import { startTopology, type Topology } from '@megaphone/testing';
import { PRODUCER_BIN } from '@megaphone/producer';

export type SystemName = 'megaphone' | 'socketio' | 'naive' | 'floor' | 'batched-ws' | 'megaphone-base';
/**
 * The default run. Diagnostic systems chosen with `--systems`: `batched-ws` (the floor's batching
 * written with ws.send) and `megaphone-base` (the gateway of another built checkout, named by
 * BENCH_BASE_DIR, against this one in the same alternating rounds: did a change cost anything?).
 */
export const SYSTEM_NAMES: readonly SystemName[] = ['megaphone', 'socketio', 'naive', 'floor'];
export const ALL_SYSTEM_NAMES: readonly SystemName[] = [...SYSTEM_NAMES, 'batched-ws', 'megaphone-base'];
export const SYSTEM_LABELS: Record<SystemName, string> = {
  megaphone: 'Megaphone',
  socketio: 'Socket.IO',
  naive: 'naive ws',
  floor: 'floor',
  'batched-ws': 'batched ws',
  'megaphone-base': 'Megaphone (base)',
};

/** One server under test, started fresh for each scenario against a shared Redis. */
export interface RunningSystem {
  name: SystemName;
  /** The process whose CPU and memory are measured (the gateway, or the peer server). */
  pid: number;
  protocol: ClientProtocol;
  port: number;
  pathTemplate: string;
  publishVia: PublishVia;
  /** Megaphone only: publish with `Bus.publish` from the load generator instead of through the producer. */
  busVia?: PublishVia;
  /** For the command-output scenario: how this system publishes a job's lines. */
  jobVia?: (lines: number) => PublishVia;
  /** Extra CPU consumers on the load core (the producer) whose usage the report notes. */
  sidePids: number[];
  /** Megaphone with tokens on: the token every client and the publisher present. */
  token?: string;
  stop(): Promise<void>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = join(here, '..', '..', '..');
export const LINE_EMITTER = join(here, 'line-emitter.js');

export interface StartOptions {
  redisPort: number;
  /** Extra node flags for the process under test (e.g. `--cpu-prof`). */
  nodeFlags?: string[];
  /** Extra node flags for Megaphone's producer. */
  producerNodeFlags?: string[];
  /** Lines per burst for the command-output job and how long the command takes to print them. */
  burst?: { lines: number; durationMs: number };
  /** Megaphone: tokens on (a key configured, no public channel). */
  auth?: boolean;
}

/** The bench's own HS256 key: a run with `--auth` verifies every client's token with it. */
const BENCH_SECRET = 'megaphone-bench-secret-0123456789abcdefghijkl';

function benchToken(): Promise<string> {
  return new SignJWT({ sub: 'bench', channels: ['*'], publish: ['*'], run: ['*'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('24h')
    .sign(new TextEncoder().encode(BENCH_SECRET));
}

/** A profiled gateway needs time to exit cleanly so that node writes its `.cpuprofile`. */
export async function startSystem(name: SystemName, opts: StartOptions): Promise<RunningSystem> {
  if (name === 'megaphone') return startMegaphone(opts);
  if (name === 'megaphone-base') return startMegaphone(opts, baseGatewayBin());
  return startPeer(name, opts);
}

/** `megaphone-base`'s gateway: the bin (or, in older checkouts, dist/src/main.js) under BENCH_BASE_DIR. */
function baseGatewayBin(): string {
  const dir = process.env.BENCH_BASE_DIR;
  if (dir === undefined || dir === '') throw new Error('megaphone-base needs BENCH_BASE_DIR: a built checkout (npm ci && npm run build) to compare with');
  for (const rel of ['services/gateway/bin/megaphone-gateway.js', 'services/gateway/dist/src/main.js']) {
    const p = join(dir, rel);
    if (existsSync(p)) return p;
  }
  throw new Error(`BENCH_BASE_DIR=${dir} has no built gateway (services/gateway/bin/megaphone-gateway.js or dist/src/main.js)`);
}

async function startPeer(name: Exclude<SystemName, 'megaphone'>, opts: StartOptions): Promise<RunningSystem> {
  const port = await freePort();
  const script = join(here, 'peers', `${name === 'naive' ? 'naive-ws' : name}.js`);
  const child = spawnPinned(SERVER_CORE, process.execPath, [...(opts.nodeFlags ?? []), script, '--port', String(port), '--redis-port', String(opts.redisPort)], { cwd: repoRoot });
  await waitForOutput(child, /"ready":true/, 15_000, name);
  const socketio = name === 'socketio';
  return {
    name,
    pid: child.pid!,
    protocol: socketio ? 'socketio' : 'plain',
    port,
    pathTemplate: socketio ? '/socket.io/?EIO=4&transport=websocket&channel={channel}' : '/ws?channel={channel}',
    publishVia: { kind: socketio ? 'redis-socketio' : 'redis-plain', redisPort: opts.redisPort },
    sidePids: [],
    stop: () => stopChild(child),
  };
}

async function startMegaphone(opts: StartOptions, gatewayBin: string = GATEWAY_BIN): Promise<RunningSystem> {
  const dir = mkdtempSync(join(tmpdir(), 'megaphone-bench-'));
  const burst = opts.burst ?? { lines: 5000, durationMs: 1000 };
  const jobsFile = join(dir, 'jobs.yaml');
  writeFileSync(
    jobsFile,
    [
      'jobs:',
      '  - name: burst',
      `    command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(LINE_EMITTER)}, "${burst.lines}", "${burst.durationMs}"]`,
      '    timeout: 60s',
      '    restart: never',
      '',
    ].join('\n'),
  );
  const token = opts.auth === true ? await benchToken() : undefined;
  // The launcher of @megaphone/testing (the tests' and `npm run cluster`'s): one gateway as it ships
  // (its bin with GATEWAY_NODE_FLAGS) pinned to the server core, the producer on the load core.
  let topology: Topology;
  try {
    topology = await startTopology({
      bins: { gatewayBin, gatewayNodeFlags: GATEWAY_NODE_FLAGS, producerBin: PRODUCER_BIN },
      redis: { REDIS_URL: `redis://127.0.0.1:${opts.redisPort}` },
      gateways: 1,
      producers: 1,
      gatewayName: () => 'bench-gw',
      producerName: () => 'bench-producer',
      env: { LOG_LEVEL: 'warn', ...(opts.auth === true ? { AUTH_JWT_SECRET: BENCH_SECRET } : {}) },
      gatewayEnv: {
        GATEWAY_ALLOWED_ORIGINS: '*',
        GATEWAY_DRAIN_MS: '500',
        // Every bench client connects from loopback, thousands in a burst.
        GATEWAY_MAX_CONNECTIONS_PER_IP: '10000000',
        GATEWAY_CONNECTS_PER_IP_PER_SECOND: '100000',
      },
      producerEnv: { PRODUCER_JOBS_FILE: jobsFile },
      nodeFlags: { gateway: opts.nodeFlags ?? [], producer: opts.producerNodeFlags ?? [] },
      spawn: (role) => (command, args, spawnOpts) => spawnPinned(role === 'gateway' ? SERVER_CORE : LOAD_CORE, command, args, spawnOpts),
      cwd: dir,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const gateway = topology.gateways[0]!;
  const producer = topology.producers[0]!;
  return {
    name: gatewayBin === GATEWAY_BIN ? 'megaphone' : 'megaphone-base',
    pid: gateway.pid,
    protocol: 'megaphone',
    port: gateway.port,
    pathTemplate: '/ws',
    publishVia: { kind: 'producer', port: producer.port, ...(token !== undefined ? { token } : {}) },
    busVia: { kind: 'bus', redisPort: opts.redisPort },
    jobVia: (lines) => ({ kind: 'job', port: producer.port, job: 'burst', lines, ...(token !== undefined ? { token } : {}) }),
    ...(token !== undefined ? { token } : {}),
    sidePids: [producer.pid],
    stop: async () => {
      await topology.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type { ChildProcess };
