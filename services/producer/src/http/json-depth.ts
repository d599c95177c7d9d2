/**
 * Deepest nesting of arrays and objects a request body may have. Data this deep is no one's real
 * payload, and re-encoding much deeper JSON overflows the stack (V8 parses 100,000 levels, but
 * `JSON.stringify` of them throws a RangeError).
 */
export const MAX_JSON_DEPTH = 128;

/** True when `text` (JSON or not) nests arrays/objects deeper than `max`; strings are skipped. */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
