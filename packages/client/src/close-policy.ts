import { CloseCode } from '@megaphone/protocol';

/** What the client does after the socket closed, by close code (SPEC §3 "Closing"). */
export type CloseAction =
  | { kind: 'reconnect'; retryAfterMs?: number }
  /** Policy violation or oversized frame: reconnecting would fail the same way. */
  | { kind: 'fatal' }
  /** The token is missing or expired: the application must get a new one, then `connect()`. */
  | { kind: 'unauthorized' }
  /** An operator cut this client off (4403): it must not come back on its own. */
  | { kind: 'disconnected' };

export function closeAction(code: number, reason: string): CloseAction {
  switch (code) {
    case CloseCode.Policy:
    case CloseCode.TooLarge:
      return { kind: 'fatal' };
    case CloseCode.Unauthorized:
      return { kind: 'unauthorized' };
    case CloseCode.OperatorDisconnect:
      return { kind: 'disconnected' };
    case CloseCode.GoingAway: {
      const hint = retryAfterHint(reason);
      return hint === undefined ? { kind: 'reconnect' } : { kind: 'reconnect', retryAfterMs: hint };
    }
    default:
      // 4000 (slow consumer), 4001 (heartbeat), 1006 (abnormal), 1011, anything unknown: the
      // stream is resumable with `since`, so reconnecting is always safe.
      return { kind: 'reconnect' };
  }
}

/** Reads `{"retryAfterMs":N}` from a close reason; anything else is ignored. */
export function retryAfterHint(reason: string): number | undefined {
  if (!reason.startsWith('{')) return undefined;
  try {
    const v = (JSON.parse(reason) as { retryAfterMs?: unknown }).retryAfterMs;
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.min(v, 10 * 60_000) : undefined;
  } catch {
    return undefined;
  }
}
