import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, HOST } from '../ports.js';
import { waitFor } from '../wait.js';

/**
 * Test harness: real `redis-server` processes (from PATH) on free ports, each in its own temp dir,
 * without persistence. Every process is tracked by pid and SIGKILLed when the test process exits,
 * as a safety net for a test that forgets to stop what it started.
 */

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
let reaperFile: string | undefined;

/**
 * Two safety nets for servers a test did not stop: an exit hook (normal exit), and a tiny detached
 * shell that outlives this process and SIGKILLs the pids listed in a file once this process is gone
 * (killed by a signal or by the test runner's timeout, when no exit hook runs).
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        if (child.pid !== undefined) {
          process.kill(child.pid, 'SIGCONT');
          process.kill(child.pid, 'SIGKILL');
        }
      } catch {
        // already gone
      }
    }
    if (reaperFile !== undefined) writeFileSync(reaperFile, '');
  });
  try {
    reaperFile = join(mkdtempSync(join(tmpdir(), 'megaphone-reaper-')), 'pids');
    writeFileSync(reaperFile, '');
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; for p in $(cat "$1"); do kill -CONT $p; kill -9 $p; done; rm -rf "$(dirname "$1")"`;
    const reaper = spawn('sh', ['-c', script, 'reaper', reaperFile], { stdio: 'ignore', detached: true });
    reaper.unref();
  } catch {
    reaperFile = undefined;
  }
}

function recordPids(): void {
  if (reaperFile === undefined) return;
  const pids = [...live].map((c) => c.pid).filter((p): p is number => p !== undefined);
  try {
    writeFileSync(reaperFile, pids.join(' '));
  } catch {
    // the reaper is a safety net only
  }
}

/** Runs `redis-cli -p <port> <args…>` and returns its raw stdout (trimmed). `caFile`: connect with TLS. */
export function redisCli(port: number, args: readonly string[], timeoutMs = 5000, caFile?: string): Promise<string> {
  const tls = caFile !== undefined ? ['--tls', '--cacert', caFile] : [];
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', HOST, '-p', String(port), ...tls, ...args], { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${err.message} ${stderr}`.trim()));
      else resolve(stdout.trim());
    });
  });
}

/** Parses `INFO` output into key → value. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

export interface RedisServerOptions {
  /** A fixed port; by default a free one. */
  port?: number;
  /** Extra `redis-server` arguments, e.g. `['--cluster-enabled', 'yes']`. */
  args?: readonly string[];
  /** Reserve port + 10000 as well (cluster bus). */
  clusterBus?: boolean;
  /** Run as a Sentinel with this config file body (the port line is added). */
  sentinelConfig?: string;
  /** Serve TLS only (`rediss://`), with a throwaway CA and server certificate made by `openssl`. */
  tls?: boolean;
}

/** Files of a throwaway CA and a server certificate for 127.0.0.1/localhost. */
export interface TestCertificates {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Makes a CA and a server certificate for 127.0.0.1 in `dir` with the `openssl` CLI. */
export function makeTestCertificates(dir: string): TestCertificates {
  const caFile = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'ext.cnf');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=megaphone-test-ca']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', '/CN=127.0.0.1']);
  run(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return { caFile, certFile, keyFile };
}

/** One `redis-server` (or `redis-server --sentinel`) child process. */
export class RedisServer {
  readonly host = HOST;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private paused = false;
  /** With `tls`: the certificates it serves (`caFile` is what clients trust). */
  readonly certificates: TestCertificates | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly options: RedisServerOptions,
  ) {
    this.certificates = options.tls ? makeTestCertificates(dir) : undefined;
  }

  /** Starts a server and resolves once it answers PING. Retries on another port if the port was taken. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    installExitHook();
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = options.port ?? (await freePort({ clusterBus: options.clusterBus ?? false }));
      const dir = mkdtempSync(join(tmpdir(), `megaphone-redis-${port}-`));
      const server = new RedisServer(port, dir, options);
      try {
        await server.spawn();
        return server;
      } catch (err) {
        lastError = err;
        await server.kill().catch(() => undefined);
        rmSync(dir, { recursive: true, force: true });
        if (options.port !== undefined) break;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  get url(): string {
    return `${this.options.tls ? 'rediss' : 'redis'}://${HOST}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get logFile(): string {
    return join(this.dir, 'redis.log');
  }

  /** The last lines of this server's log (for failing-test messages). */
  logTail(lines = 30): string {
    if (!existsSync(this.logFile)) return '';
    return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
  }

  private async spawn(): Promise<void> {
    const certs = this.certificates;
    const listen = certs
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile, '--tls-ca-cert-file', certs.caFile, '--tls-auth-clients', 'no']
      : ['--port', String(this.port)];
    const common = [...listen, '--bind', HOST, '--dir', this.dir, '--logfile', this.logFile, '--daemonize', 'no'];
    let argv: string[];
    if (this.options.sentinelConfig !== undefined) {
      const conf = join(this.dir, 'sentinel.conf');
      // Sentinel rewrites its config file; keep the one it wrote on restart.
      if (!existsSync(conf)) writeFileSync(conf, `${this.options.sentinelConfig.trim()}\n`);
      argv = [conf, '--sentinel', ...common];
    } else {
      argv = [...common, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...(this.options.args ?? [])];
    }
    const child = spawn('redis-server', argv, { stdio: 'ignore' });
    child.unref();
    this.child = child;
    this.paused = false;
    live.add(child);
    recordPids();
    let exitedEarly = false;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        exitedEarly = true;
        live.delete(child);
        recordPids();
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once('error', () => {
        exitedEarly = true;
        live.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    await waitFor(
      `redis-server on port ${this.port} to answer PING`,
      async () => {
        if (exitedEarly) throw new Error(`redis-server on port ${this.port} exited at start: ${this.logTail(5)}`);
        return (await redisCli(this.port, ['PING'], 1000, this.certificates?.caFile)) === 'PONG';
      },
      { timeoutMs: 10_000, intervalMs: 30 },
    ).catch((err: unknown) => {
      if (exitedEarly) throw new Error(`redis-server on port ${this.port} exited at start:\n${this.logTail(10)}`);
      throw err;
    });
  }

  /** `redis-cli` against this server. */
  cli(...args: string[]): Promise<string> {
    return redisCli(this.port, args, 5000, this.certificates?.caFile);
  }

  async info(section = 'all'): Promise<Record<string, string>> {
    return parseInfo(await this.cli('INFO', section));
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.child === undefined) return;
    if (this.paused) this.resume();
    this.signal('SIGTERM');
    // The timer also keeps the event loop alive while we wait (the child itself is unref'd).
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** `kill -9`: no shutdown, no goodbye to clients (they see a reset or nothing). */
  async kill(): Promise<void> {
    if (this.child === undefined) return;
    this.signal('SIGKILL');
    const keepAlive = setInterval(() => undefined, 1000);
    await this.exited;
    clearInterval(keepAlive);
    this.paused = false;
  }

  /** Starts the server again on the same port. Data is gone (no persistence); cluster/sentinel config files are kept. */
  async restart(): Promise<void> {
    if (this.child !== undefined) await this.stop();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.spawn();
        return;
      } catch (err) {
        await this.kill().catch(() => undefined);
        // The port may linger for a moment after a kill.
        if (attempt >= 20) throw err;
        await sleep(250);
      }
    }
  }

  /** SIGSTOP: the process keeps its sockets open but answers nothing (a hung server, no FIN). */
  pause(): void {
    this.signal('SIGSTOP');
    this.paused = true;
  }

  /** SIGCONT after `pause`. */
  resume(): void {
    this.signal('SIGCONT');
    this.paused = false;
  }

  /** Stops the process and removes its directory. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
