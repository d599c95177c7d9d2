import type { CliEnv } from './config.js';
import { sanitizeLine } from './ansi.js';

/** The part of a stream the CLI writes to (process.stdout/stderr, or a test double). */
export interface OutStream {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

export type Style = 'dim' | 'bold' | 'red' | 'green' | 'yellow' | 'cyan' | 'magenta' | 'inverse';

const SGR: Readonly<Record<Style, string>> = {
  dim: '2',
  bold: '1',
  red: '31',
  green: '32',
  yellow: '33',
  cyan: '36',
  magenta: '35',
  inverse: '7',
};

/**
 * What the CLI knows about where it writes: colours only on a TTY and never with `NO_COLOR` (or
 * `TERM=dumb`), a transient status line on stderr only when stderr is a TTY.
 */
export class Terminal {
  /** Colours (and a job's own SGR sequences) on stdout. */
  readonly colourOut: boolean;
  /** Colours on stderr. */
  readonly colourErr: boolean;
  /** stderr is an interactive terminal: status lines may be drawn and erased. */
  readonly interactiveErr: boolean;
  private statusShown = false;

  constructor(
    readonly stdout: OutStream,
    readonly stderr: OutStream,
    env: Pick<CliEnv, 'noColor' | 'dumbTerminal'>,
  ) {
    const colourAllowed = !env.noColor && !env.dumbTerminal;
    this.colourOut = colourAllowed && stdout.isTTY === true;
    this.colourErr = colourAllowed && stderr.isTTY === true;
    this.interactiveErr = stderr.isTTY === true && !env.dumbTerminal;
  }

  get stdoutIsTTY(): boolean {
    return this.stdout.isTTY === true;
  }

  /** Writes one line to stdout. */
  out(line: string): void {
    this.clearStatus();
    this.stdout.write(`${line}\n`);
  }

  /** Writes one line to stderr. */
  err(line: string): void {
    this.clearStatus();
    this.stderr.write(`${line}\n`);
  }

  /** A line of a job's output as it was: its colours kept on a colour terminal, plain text otherwise. */
  sanitize(line: string, stream: 'stdout' | 'stderr'): string {
    return sanitizeLine(line, stream === 'stderr' ? this.colourErr : this.colourOut);
  }

  /** `text` styled for stdout. */
  paint(text: string, ...styles: Style[]): string {
    return this.colourOut ? wrap(text, styles) : text;
  }

  /** `text` styled for stderr. */
  paintErr(text: string, ...styles: Style[]): string {
    return this.colourErr ? wrap(text, styles) : text;
  }

  /** A transient line on stderr ("connecting…"), replaced by the next one; nothing unless stderr is a TTY. */
  status(text: string): void {
    if (!this.interactiveErr) return;
    const width = Math.max(10, (this.stderr.columns ?? 80) - 1);
    const shown = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.stderr.write(`\r\u001b[2K${this.paintErr(shown, 'dim')}`);
    this.statusShown = true;
  }

  clearStatus(): void {
    if (!this.statusShown) return;
    this.statusShown = false;
    this.stderr.write('\r\u001b[2K');
  }
}

function wrap(text: string, styles: readonly Style[]): string {
  if (styles.length === 0) return text;
  return `\u001b[${styles.map((s) => SGR[s]).join(';')}m${text}\u001b[0m`;
}
