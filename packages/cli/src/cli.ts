import type { CliEnv } from './config.js';
import type { Command, CommandContext, InputStream } from './context.js';
import { ApiError } from './http.js';
import { Terminal, type OutStream } from './terminal.js';
import { UsageError } from './usage.js';

interface CommandEntry {
  name: string;
  /** One line for `megaphone --help`. */
  summary: string;
  /** Each command's module is loaded only when it runs: `megaphone jobs` does not load jose or ws. */
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'tail', summary: 'follow channels: publications as they come, resumed across reconnects', load: async () => (await import('./commands/tail.js')).tail },
  { name: 'publish', summary: 'publish JSON, or standard input line by line (--lines)', load: async () => (await import('./commands/publish.js')).publish },
  { name: 'jobs', summary: "the producer's jobs and their last run, as a table", load: async () => (await import('./commands/jobs.js')).jobs },
  { name: 'run', summary: 'start a run of a job; --follow streams it and exits with its code', load: async () => (await import('./commands/run.js')).run },
  { name: 'token', summary: 'print a signed token (JWT) for a user: what they may read, publish and run', load: async () => (await import('./commands/token.js')).token },
  { name: 'top', summary: 'the slowest connections and busiest channels, refreshed in place', load: async () => (await import('./commands/top.js')).top },
];

export const VERSION = '0.1.0';

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: megaphone <command> [options]

Megaphone from the terminal: follow channels, publish, run jobs, mint tokens, watch the gateways.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

megaphone <command> --help says more. With \`npm start\` running, try:
  megaphone tail uptime
  megaphone run flaky --follow; echo "exit code $?"
  echo hello | megaphone publish notes --lines
  megaphone top

Exit codes: 0 ok, 1 failure, 2 usage error; run --follow exits with the run's own code.`;
}

export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  stdin: InputStream;
  env: CliEnv;
  signal: AbortSignal;
}

/** Runs one command line; resolves to the exit code. Usage errors are one line on stderr and exit 2. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const term = new Terminal(io.stdout, io.stderr, io.env);
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    term.out(topic === undefined ? mainHelp() : (await topic.load()).help);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    term.out(VERSION);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    term.err(`megaphone: unknown command "${name}" (commands: ${COMMANDS.map((c) => c.name).join(', ')}; see megaphone --help)`);
    return 2;
  }
  const ctx: CommandContext = { argv: rest, env: io.env, term, stdin: io.stdin, signal: io.signal };
  const command = await entry.load();
  try {
    return await command.run(ctx);
  } catch (err) {
    term.clearStatus();
    if (err instanceof UsageError) {
      term.err(`megaphone ${command.name}: ${err.message} (see megaphone ${command.name} --help)`);
      return 2;
    }
    if (io.signal.aborted) return io.signal.reason === 'stdout-closed' ? 0 : 130;
    const message = err instanceof ApiError || err instanceof Error ? err.message : String(err);
    term.err(term.paintErr(`megaphone ${command.name}: ${message}`, 'red'));
    return 1;
  }
}
