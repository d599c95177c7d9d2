import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';

/** How a child is started: node's `spawn` by default; the bench pins it to a core (taskset). */
export type SpawnFn = (command: string, args: readonly string[], opts: SpawnOptions) => ChildProcess;

/** Every child this harness started; killed on exit even when a test throws before its cleanup. */
const live = new Set<ChildProcess>();
function killAll(): void {
  for (const c of live) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) killQuietly(c.pid, 'SIGKILL');
}
process.on('exit', killAll);
// A runner that gives up on a test file sends a signal; 'exit' would not run, the children would
// linger. A program with its own handler (npm run cluster stops its services in order) decides itself.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, function lastResort() {
    if (process.listeners(sig).some((l) => l !== lastResort)) return;
    killAll();
    process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
  });
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export interface ChildOptions extends SpawnOptions {
  /** Lines of output kept for failure messages (default 60). */
  tailLines?: number;
  /** Every line of output as it comes (e.g. `npm run cluster` prints them prefixed). */
  onLine?: (line: string) => void;
  spawn?: SpawnFn;
}

/** A child process with the tail of its output kept for failure messages. */
export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  /** Resolves with the exit code and signal when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(name: string, command: string, args: readonly string[], opts: ChildOptions = {}) {
    this.name = name;
    const { tailLines, onLine, spawn: spawnFn = spawn, ...spawnOpts } = opts;
    this.proc = spawnFn(command, args, { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.proc);
    const keep = tailLines ?? 60;
    const collector = () => {
      let rest = '';
      return (chunk: Buffer) => {
        const lines = (rest + chunk.toString('utf8')).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) keepLine(line);
      };
    };
    const keepLine = (line: string): void => {
      if (line.length === 0) return;
      onLine?.(line);
      this.lines.push(line.length > 600 ? `${line.slice(0, 600)}…` : line);
      if (this.lines.length > keep) this.lines.shift();
    };
    this.proc.stdout?.on('data', collector());
    this.proc.stderr?.on('data', collector());
    this.proc.on('error', (err) => this.lines.push(`spawn error: ${err.message}`));
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        live.delete(this.proc);
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    if (this.proc.pid === undefined) throw new Error(`${this.name} has no pid (spawn failed): ${this.tail()}`);
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The last lines the process wrote, for assertion messages. */
  tail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running && this.proc.pid !== undefined) killQuietly(this.proc.pid, sig);
  }

  async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.running) return true;
    const timer = new Promise<false>((r) => setTimeout(() => r(false), timeoutMs).unref());
    return Promise.race([this.exited.then(() => true as const), timer]);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. A stopped (SIGSTOP) process is continued first. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    if (await this.waitExit(graceMs)) return;
    await this.kill9();
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGKILL');
    await this.exited;
  }
}
