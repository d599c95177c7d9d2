import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { waitFor, WaitAborted } from '@megaphone/testing';

/** The gateway (or peer) under test runs on this core; Redis, the producer and the load on the other. */
export const SERVER_CORE = 0;
export const LOAD_CORE = 1;

const HAS_TASKSET = existsSync('/usr/bin/taskset') || existsSync('/bin/taskset');

export { freePort } from '@megaphone/testing';

let boost: number | undefined;
const live = new Set<ChildProcess>();

/**
 * On a shared machine Linux's autogroup scheduler splits CPU between sessions, not processes:
 * every benchmark process would share one session's slice with the others, and plain `nice` only
 * orders processes inside it. With a boost, each process the bench starts gets its own session
 * (hence its own autogroup) with this niceness, so the pinned server and the load generator get
 * their cores. Needs root; recorded in the results.
 */
export function setSchedulingBoost(nice: number): void {
  boost = nice;
}

export function schedulingBoost(): number | undefined {
  return boost;
}

/** Gives a child started with `detached` (its own session) the boost. */
export function applyBoost(child: ChildProcess): void {
  if (boost === undefined || child.pid === undefined) return;
  try {
    writeFileSync(`/proc/${child.pid}/autogroup`, String(boost));
  } catch {
    // not permitted: the child keeps the default share
  }
}

/** Remembers a child so that an interrupted bench does not leave it running in its own session. */
export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export function killTrackedChildren(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** Starts `cmd args` pinned to one CPU core (when taskset exists). */
export function spawnPinned(core: number, cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const [file, argv] = HAS_TASKSET ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, [...args]];
  // taskset execs the command, so the child's pid is the pinned process itself.
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: boost !== undefined, ...opts });
  applyBoost(child);
  return track(child);
}

/** Collects a child's output (the last few KiB) for error messages. */
export function captureOutput(child: ChildProcess): () => string {
  let out = '';
  const add = (b: Buffer): void => {
    out = (out + b.toString('utf8')).slice(-8192);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => out;
}

export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number, what: string): Promise<void> {
  const output = captureOutput(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${what} not ready after ${timeoutMs} ms: ${output()}`)), timeoutMs);
    const check = (): void => {
      if (pattern.test(output())) finish();
    };
    const onExit = (code: number | null): void => finish(new Error(`${what} exited (${code}) before ready: ${output()}`));
    function finish(err?: Error): void {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', onExit);
  });
}

export async function waitForHttpOk(url: string, timeoutMs: number, what: string, child?: ChildProcess): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (child && child.exitCode !== null) throw new WaitAborted(`${what} exited with ${child.exitCode}`);
      const res = await fetch(url);
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      return true;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** SIGTERM, then SIGKILL after a grace; resolves when the child has exited. */
export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
