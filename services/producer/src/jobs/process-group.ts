/**
 * Signals a whole process group (the run's leader was spawned `detached`, so its pid is the group id
 * and every descendant that did not leave the group receives the signal too).
 * Returns false when the group no longer exists (or is no longer ours).
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    // ESRCH: the group is gone. EPERM: the id now belongs to someone else's processes, so not ours either.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH' || code === 'EPERM') return false;
    throw err;
  }
}

/** True while any process of the group is alive. */
export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}
