/**
 * Reads environment variables once, collecting every problem, so that a bad configuration stops the
 * process with one message listing all of them (STYLE: one place for configuration).
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export interface IntOptions {
  min?: number;
  max?: number;
}

export class EnvReader {
  private readonly problems: string[] = [];
  /** Every variable name asked for, so tests can check deployment files against the parser. */
  readonly known = new Set<string>();

  constructor(private readonly env: Env) {}

  problem(message: string): void {
    this.problems.push(message);
  }

  private raw(name: string): string | undefined {
    this.known.add(name);
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  str(name: string, fallback: string): string;
  str(name: string): string | undefined;
  str(name: string, fallback?: string): string | undefined {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER }: IntOptions = {}): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v)) {
      this.problem(`${name}=${JSON.stringify(v)} is not an integer`);
      return fallback;
    }
    const n = Number(v);
    if (n < min || n > max) {
      this.problem(`${name}=${v} is out of range (${min}–${max})`);
      return fallback;
    }
    return n;
  }

  port(name: string, fallback: number): number {
    return this.int(name, fallback, { min: 0, max: 65535 });
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(v)) return true;
    if (/^(0|false|no|off)$/i.test(v)) return false;
    this.problem(`${name}=${JSON.stringify(v)} is not a boolean (true/false)`);
    return fallback;
  }

  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if ((values as readonly string[]).includes(v)) return v as T;
    this.problem(`${name}=${JSON.stringify(v)} must be one of ${values.join(', ')}`);
    return fallback;
  }

  list(name: string): string[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    return v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  }

  json(name: string): unknown {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      this.problem(`${name} is not valid JSON`);
      return undefined;
    }
  }

  /** Throws a ConfigError listing every problem found so far. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

/** Deep-freezes a config object. */
export function freeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) freeze(v);
  }
  return value;
}
