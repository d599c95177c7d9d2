import { isValidChannel } from '@megaphone/protocol';

/**
 * The gateway's messages on the bus's control channel (Bus.publishControl), as JSON with a type
 * `t`. Every gateway hears every message, its own included; a message of an unknown type or shape
 * (another version, another service) is ignored.
 *
 * - `presence`: one gateway's subscriber counts (presence.ts). `counts` holds only the channels
 *   whose count changed since its previous report, 0 meaning "none left"; `reset` says the
 *   counts are its whole state (a first report, or an answer to `presence-sync`). `seq` rises by
 *   one per report of one `boot` (a process), so a receiver sees a lost report and asks again.
 * - `presence-sync`: asks `node` (or every gateway, `*`) for a full report.
 * - `disconnect`: close every connection of user `sub` with 4403 (POST /v1/disconnect).
 */
export type ControlMessage =
  | { t: 'presence'; node: string; boot: string; seq: number; ts: number; reset?: true; counts: Record<string, number> }
  | { t: 'presence-sync'; node: string }
  | { t: 'disconnect'; sub: string; from: string; boot: string };

/** Node names and subs are short printable strings: anything else is not one of ours. */
const NAME_MAX = 256;

function isName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= NAME_MAX;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function encodeControl(msg: ControlMessage): string {
  return JSON.stringify(msg);
}

/** The message, or undefined for anything that is not a well-formed gateway control message. */
export function decodeControl(text: string): ControlMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const m = v as Record<string, unknown>;
  switch (m.t) {
    case 'presence': {
      if (!isName(m.node) || !isName(m.boot) || !isCount(m.seq) || !isCount(m.ts)) return undefined;
      if (typeof m.counts !== 'object' || m.counts === null || Array.isArray(m.counts)) return undefined;
      const counts: Record<string, number> = {};
      for (const [channel, n] of Object.entries(m.counts as Record<string, unknown>)) {
        if (!isValidChannel(channel) || !isCount(n)) return undefined;
        counts[channel] = n;
      }
      return { t: 'presence', node: m.node, boot: m.boot, seq: m.seq, ts: m.ts, ...(m.reset === true ? { reset: true as const } : {}), counts };
    }
    case 'presence-sync':
      return isName(m.node) ? { t: 'presence-sync', node: m.node } : undefined;
    case 'disconnect':
      return isName(m.sub) && isName(m.from) && isName(m.boot) ? { t: 'disconnect', sub: m.sub, from: m.from, boot: m.boot } : undefined;
    default:
      return undefined;
  }
}
