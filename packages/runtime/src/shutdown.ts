import type { Logger } from 'pino';

export interface SignalOptions {
  /**
   * Past this long after the first signal the process exits with code 1 whatever `stop` is
   * waiting for (a start that never finished, a step someone forgot to bound): the orchestrator
   * would SIGKILL it at the end of its grace period anyway, and a log line saying so beats a
   * silent kill. Set it below the grace period (Kubernetes: terminationGracePeriodSeconds).
   */
  deadlineMs?: number;
}

/** Kubernetes' default grace period is 30 s: stop a little before it. */
export const DEFAULT_SHUTDOWN_DEADLINE_MS = 25_000;

/**
 * Ordered shutdown: the first SIGTERM/SIGINT runs `stop` (which should finish before the
 * orchestrator's grace period), a second signal exits at once. Exit code 0 when `stop` succeeds,
 * 1 when it fails or does not finish within `deadlineMs`.
 */
export function handleSignals(stop: (signal: NodeJS.Signals) => Promise<void>, logger: Logger, opts: SignalOptions = {}): void {
  const deadlineMs = opts.deadlineMs ?? DEFAULT_SHUTDOWN_DEADLINE_MS;
  if (!Number.isSafeInteger(deadlineMs) || deadlineMs <= 0) throw new RangeError(`deadlineMs must be a positive integer (got ${deadlineMs})`);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    logger.info({ signal, deadlineMs }, 'shutting down');
    // Unref'd: it never keeps a process alive, it only ends one that is still busy.
    setTimeout(() => {
      logger.error({ deadlineMs }, 'shutdown did not finish within its deadline: exiting now');
      process.exit(1);
    }, deadlineMs).unref();
    stop(signal).then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
