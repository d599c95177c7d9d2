import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import type { ConnectReply, ConnectRequest, LoadgenReply, RunReply, RunRequest } from './loadgen/messages.js';
import { applyBoost, LOAD_CORE, schedulingBoost, track } from './processes.js';

const LOADGEN_MAIN = join(fileURLToPath(new URL('.', import.meta.url)), 'loadgen', 'main.js');
const HAS_TASKSET = existsSync('/usr/bin/taskset') || existsSync('/bin/taskset');

/** The parent's side of the load generator child process: one request in flight at a time. */
export class Loadgen {
  private readonly child: ChildProcess;
  private waiting: ((msg: LoadgenReply) => void) | undefined;
  private exited = false;

  constructor(nodeFlags: readonly string[] = []) {
    this.child = fork(LOADGEN_MAIN, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: ['--max-old-space-size=4096', ...nodeFlags],
      detached: schedulingBoost() !== undefined,
    });
    applyBoost(this.child);
    track(this.child);
    if (HAS_TASKSET && this.child.pid !== undefined) {
      // fork cannot go through taskset; pin the running child instead (all its threads).
      spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(this.child.pid)], { stdio: 'ignore' });
    }
    this.child.on('message', (msg: LoadgenReply) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.(msg);
    });
    this.child.on('exit', (code) => {
      this.exited = true;
      const w = this.waiting;
      this.waiting = undefined;
      w?.({ type: 'error', message: `load generator exited with ${code}` });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private request(req: ConnectRequest | RunRequest): Promise<LoadgenReply> {
    if (this.exited) return Promise.resolve({ type: 'error', message: 'load generator is gone' });
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.child.send(req);
    });
  }

  async connect(req: Omit<ConnectRequest, 'type'>): Promise<ConnectReply> {
    const r = await this.request({ type: 'connect', ...req });
    if (r.type !== 'connected') throw new Error(r.type === 'error' ? r.message : `unexpected ${r.type}`);
    return r;
  }

  async run(req: Omit<RunRequest, 'type'>): Promise<RunReply> {
    const r = await this.request({ type: 'run', ...req });
    if (r.type !== 'ran') throw new Error(r.type === 'error' ? r.message : `unexpected ${r.type}`);
    return r;
  }

  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.send({ type: 'stop' });
    });
  }
}
