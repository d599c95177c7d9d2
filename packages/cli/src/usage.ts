import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake on the command line: exit code 2 and a one-line message naming the command. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Options every command that talks to a server accepts (SPEC §13 "Where to connect"). */
export const CONNECTION_OPTIONS = {
  gateway: { type: 'string' },
  api: { type: 'string' },
  admin: { type: 'string' },
  token: { type: 'string' },
  'admin-token': { type: 'string' },
} as const;

export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/** A command's flags: `HELP_OPTION` and its own. */
export type CommandOptions = NonNullable<ParseArgsConfig['options']> & typeof HELP_OPTION;

/** A command's command line: what `parseArgs` makes of it, strictly. */
export type CommandLine<O extends CommandOptions, P extends boolean> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: P; strict: true }>
>;

/**
 * A command's arguments parsed strictly against its options (mistakes are `UsageError`s), or, with
 * `--help`, its help printed and undefined returned (`defineCommand` in context.ts runs this first).
 */
export function parseCommandLine<O extends CommandOptions, P extends boolean>(
  ctx: { argv: readonly string[]; term: { out(text: string): void } },
  spec: { help: string; options: O; positionals: P },
): CommandLine<O, P> | undefined {
  const line = withUsageErrors(() => parseArgs({ args: [...ctx.argv], options: spec.options, allowPositionals: spec.positionals, strict: true }));
  if ((line.values as { help?: boolean }).help === true) {
    ctx.term.out(spec.help);
    return undefined;
  }
  return line;
}

/**
 * Runs a `node:util` parseArgs call (strict), turning its errors into one-line usage messages
 * (its own run over several sentences and mention internals).
 */
export function withUsageErrors<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(describeParseError(err));
  }
}

function describeParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted ?? message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // "Option '-n, --count <value>' argument missing" / "Option '-h, --help' does not take an argument"
      const tokens = (quoted ?? '').split(' ');
      const name = tokens.find((t) => t.startsWith('--')) ?? tokens[0] ?? '';
      if (message.includes('argument missing')) return `option ${name} needs a value`;
      if (message.includes('does not take an argument')) return `option ${name} takes no value`;
      return message.split('. ')[0] ?? message;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quoted ?? ''}`.trim();
    default:
      return message.split('\n')[0] ?? message;
  }
}

/** A whole number within bounds, for flags such as `--count`. */
export function intOption(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, not "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}`);
  return n;
}

/** A comma-separated list (`cmd:*,uptime`); empty items are dropped. */
export function listOption(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
