import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { waitFor } from '@megaphone/testing';

/**
 * A program in a real terminal: a private tmux server (its own socket) with one window of a fixed
 * size, keys typed with send-keys, the screen read with capture-pane. `apt-get install tmux`
 * (.ci/run installs it).
 */
export class TmuxSession {
  private readonly socket = `megaphone-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private closed = false;

  private constructor() {}

  static available(): boolean {
    return ['/usr/bin/tmux', '/usr/local/bin/tmux'].some((p) => existsSync(p));
  }

  /**
   * Runs `command` (a shell command line) in a new window of `width`×`height`. When it ends, the
   * window shows `EXITED <code>` and stays, so the test can read how it ended.
   */
  static start(command: string, env: Record<string, string>, width = 100, height = 24): TmuxSession {
    if (!TmuxSession.available()) throw new Error('tmux is missing: apt-get install -y tmux (.ci/run installs it)');
    const s = new TmuxSession();
    const exports = Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)};`).join(' ');
    s.tmux(['new-session', '-d', '-s', 'main', '-x', String(width), '-y', String(height), `${exports} ${command}; echo "EXITED $?"; sleep 600`]);
    return s;
  }

  private tmux(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TERM: 'xterm-256color' } });
  }

  /** The visible screen; with `escapes`, including colour sequences. */
  screen(escapes = false): string {
    return this.tmux(['capture-pane', '-p', '-t', 'main', ...(escapes ? ['-e'] : [])]);
  }

  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', 'main', ...keys]);
  }

  async waitScreen(check: (screen: string) => boolean, what: string, timeoutMs = 15_000, escapes = false): Promise<string> {
    let last = '';
    return waitFor(what, () => {
      last = this.screen(escapes);
      return check(last) ? last : undefined;
    }, { timeoutMs, intervalMs: 50 }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- screen ---\n${last}`);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.tmux(['kill-server']);
    } catch {
      // already gone
    }
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
