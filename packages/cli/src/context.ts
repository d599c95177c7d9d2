import type { Readable } from 'node:stream';
import type { CliEnv } from './config.js';
import type { Terminal } from './terminal.js';
import { parseCommandLine, type CommandLine, type CommandOptions } from './usage.js';

/** Why a command is asked to stop. */
export type StopReason = 'interrupt' | 'terminate' | 'stdout-closed';

/** Standard input as the commands use it. */
export type InputStream = Readable & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };

/** What a command runs with; nothing in a command reads `process` directly. */
export interface CommandContext {
  /** The arguments after the command's name. */
  argv: readonly string[];
  env: CliEnv;
  term: Terminal;
  stdin: InputStream;
  /** Aborted (with a `StopReason`) on Ctrl-C, SIGTERM, or when stdout was closed (`| head`). */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  help: string;
  /** Resolves to the process's exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/**
 * A command from its help, its options and its body: the command line is parsed before the body
 * runs (mistakes are usage errors), and `--help` prints the help and exits 0 without running it.
 */
export function defineCommand<O extends CommandOptions, P extends boolean>(spec: {
  name: string;
  help: string;
  options: O;
  /** Whether the command takes arguments besides its options. */
  positionals: P;
  run(ctx: CommandContext, line: CommandLine<O, P>): Promise<number>;
}): Command {
  return {
    name: spec.name,
    help: spec.help,
    async run(ctx) {
      const line = parseCommandLine(ctx, spec);
      return line === undefined ? 0 : await spec.run(ctx, line);
    },
  };
}

/** Resolves when the signal aborts (at once if it already has). */
export function whenAborted(signal: AbortSignal): Promise<StopReason> {
  if (signal.aborted) return Promise.resolve(signal.reason as StopReason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason as StopReason), { once: true }));
}

export const CONNECTION_HELP = `Where to connect (flags win over the environment):
  --gateway URL        gateway WebSocket   MEGAPHONE_GATEWAY     (ws://localhost:8080/ws)
  --api URL            producer API        MEGAPHONE_API         (http://localhost:8090)
  --admin URL          gateway admin API   MEGAPHONE_ADMIN       (http://localhost:9100)
  --token JWT          bearer token        MEGAPHONE_TOKEN
  --admin-token TOKEN  operator token      MEGAPHONE_ADMIN_TOKEN`;
