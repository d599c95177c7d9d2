import { readFileSync } from 'node:fs';

/**
 * The process's limit on open files (its soft RLIMIT_NOFILE, which Node raises to the hard limit
 * at start), read from /proc; undefined where /proc does not tell (not Linux).
 */
export function readOpenFileLimit(procLimits = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = readFileSync(procLimits, 'utf8');
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\S+)/m.exec(text)?.[1];
  if (soft === undefined) return undefined;
  if (soft === 'unlimited') return Number.MAX_SAFE_INTEGER;
  const n = Number(soft);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
