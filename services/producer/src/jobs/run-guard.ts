import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Makes a run's process group die with the producer, however the producer dies (SIGKILL and OOM
 * included): a tiny `sh` in its own group reads a pipe from the producer and, when the pipe closes
 * (the kernel closes it when the producer's process is gone), SIGKILLs the run's group. The same
 * effect as a parent-death signal (prctl PR_SET_PDEATHSIG) but for every process of the group, not
 * just the one that was spawned, and without a native addon. A new leader elsewhere may then start
 * the job again without two copies running at once.
 *
 * `dispose()` when the run has ended: the guard is SIGKILLed and never signals anything.
 */
export interface RunGuard {
  dispose(): void;
}

export function guardProcessGroup(pgid: number, onError: (err: Error) => void): RunGuard {
  let guard: ChildProcess;
  try {
    guard = spawn('/bin/sh', ['-c', 'read _; kill -KILL "-$0"', String(pgid)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: {},
      windowsHide: true,
    });
  } catch (err) {
    onError(err as Error);
    return { dispose: () => undefined };
  }
  guard.once('error', onError);
  // Nothing is ever written; an EPIPE after the guard was disposed is expected.
  guard.stdin?.on('error', () => undefined);
  return {
    dispose: () => {
      if (guard.exitCode === null && guard.signalCode === null) guard.kill('SIGKILL');
    },
  };
}
