/**
 * Channel and job patterns, as in the `channels`, `publish` and `run` claims and in
 * `AUTH_PUBLIC_CHANNELS`: an exact name (`build`, `cmd:build`), a prefix ending in `*` (`cmd:*`,
 * `cmd:deploy-*`), or `*` for everything. Compiled once (per token, per setting), so a check is a
 * set lookup plus a scan of the few prefixes, never a regular expression built from input.
 */
export interface Patterns {
  /** True when some pattern covers `name`. */
  matches(name: string): boolean;
  /** The patterns as given (normalised), for logs and replies. */
  readonly source: readonly string[];
  /** True when nothing is covered (no patterns). */
  readonly empty: boolean;
}

/** Characters of a channel name (SPEC §2); job names are a subset. */
const PATTERN_RE = /^(?:\*|[A-Za-z0-9_.:-]{1,128}|[A-Za-z0-9_.:-]{1,127}\*)$/;

/** At most this many patterns in one claim or setting: a token cannot make a check costly. */
export const MAX_PATTERNS = 256;

export function isValidPattern(p: string): boolean {
  return PATTERN_RE.test(p);
}

class CompiledPatterns implements Patterns {
  private readonly exact: ReadonlySet<string>;
  private readonly prefixes: readonly string[];
  private readonly all: boolean;
  readonly empty: boolean;

  constructor(readonly source: readonly string[]) {
    this.all = source.includes('*');
    this.exact = new Set(source.filter((p) => !p.endsWith('*')));
    this.prefixes = source.filter((p) => p.endsWith('*') && p !== '*').map((p) => p.slice(0, -1));
    this.empty = source.length === 0;
  }

  matches(name: string): boolean {
    if (this.all || this.exact.has(name)) return true;
    for (const p of this.prefixes) if (name.startsWith(p)) return true;
    return false;
  }
}

export const NO_PATTERNS: Patterns = new CompiledPatterns([]);

/**
 * Compiles a list of patterns; returns the invalid ones instead when there are any (a setting
 * reports them as a listed problem, a token with one is refused).
 */
export function compilePatterns(items: readonly string[]): Patterns | { invalid: string[] } {
  const invalid = items.filter((p) => !isValidPattern(p));
  if (items.length > MAX_PATTERNS) invalid.push(`(${items.length} patterns; at most ${MAX_PATTERNS})`);
  if (invalid.length > 0) return { invalid };
  return new CompiledPatterns([...new Set(items)]);
}

/** Reads a claim: an array of strings, or one comma-separated string; absent is no patterns. */
export function patternsFromClaim(value: unknown): Patterns | { invalid: string[] } {
  if (value === undefined || value === null) return NO_PATTERNS;
  let items: string[];
  if (typeof value === 'string') items = value.split(',');
  else if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) items = value;
  else return { invalid: ['(not a string or an array of strings)'] };
  return compilePatterns(items.map((s) => s.trim()).filter((s) => s.length > 0));
}

export function isPatterns(v: Patterns | { invalid: string[] }): v is Patterns {
  return !('invalid' in v);
}
