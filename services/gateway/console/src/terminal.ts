import { AnsiParser } from './ansi.js';
import { renderSegments } from './ansi-dom.js';
import { h } from './dom.js';

export type LineKind = 'stdout' | 'stderr' | 'meta' | 'gap';

export interface TerminalLine {
  kind: LineKind;
  text: string;
  /** The publication's offset (several lines can share one). */
  offset?: number;
  /** The line was cut at the producer's `maxLineBytes`. */
  truncated?: boolean;
  /** Keys the ANSI state: colours carry over between lines of one run's stream, as in a terminal. */
  source?: string;
}

/** Lines kept in the DOM; older ones are dropped so a chatty job cannot exhaust the page. */
export const MAX_LINES = 5000;
/** Pixels from the bottom that still count as "at the bottom". */
const STICK_PX = 8;

/**
 * A terminal-like, append-only view. Appends are batched per animation frame; it follows the
 * output while the reader is at the bottom, stops when they scroll up, and resumes when they come
 * back down (or press the "new lines" button).
 */
export class Terminal {
  readonly el: HTMLElement;
  private readonly screen: HTMLElement;
  private readonly jump: HTMLButtonElement;
  private readonly parsers = new Map<string, AnsiParser>();
  private pending: TerminalLine[] = [];
  private scheduled = false;
  private follow = true;
  private unseen = 0;
  private count = 0;

  constructor() {
    this.screen = h('div', { class: 'screen', 'data-testid': 'terminal-lines', role: 'log', 'aria-live': 'off', tabindex: '0' });
    this.jump = h('button', { class: 'jump', type: 'button', 'data-testid': 'jump-bottom', hidden: '' }, '↓ new output');
    this.el = h('div', { class: 'terminal', 'data-testid': 'terminal', 'data-follow': 'true' }, this.screen, this.jump);
    this.screen.addEventListener('scroll', () => this.onScroll(), { passive: true });
    this.jump.addEventListener('click', () => {
      this.setFollow(true);
      this.scrollToBottom();
    });
  }

  write(lines: readonly TerminalLine[]): void {
    for (const line of lines) this.pending.push(line);
    // Bounded even when frames do not run (a hidden tab): only the newest MAX_LINES can be shown.
    if (this.pending.length > MAX_LINES) this.pending.splice(0, this.pending.length - MAX_LINES);
    this.schedule();
  }

  clear(): void {
    this.pending = [];
    this.parsers.clear();
    this.screen.replaceChildren();
    this.count = 0;
    this.unseen = 0;
    this.setFollow(true);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      if (!this.scheduled) return;
      this.scheduled = false;
      this.flush();
    };
    requestAnimationFrame(run);
    // Hidden tabs get no animation frames; keep the view current at a slower pace.
    setTimeout(run, 250);
  }

  private flush(): void {
    const lines = this.pending;
    this.pending = [];
    if (lines.length === 0) return;
    // The reader may have scrolled since the last frame without its scroll event handled yet.
    if (this.follow && !this.atBottom()) this.setFollow(false);
    const frag = document.createDocumentFragment();
    for (const line of lines) frag.append(this.render(line));
    this.screen.append(frag);
    this.count += lines.length;
    this.trim();
    if (this.follow) this.scrollToBottom();
    else {
      this.unseen += lines.length;
      this.jump.textContent = `↓ ${this.unseen} new line${this.unseen === 1 ? '' : 's'}`;
    }
  }

  private render(line: TerminalLine): HTMLElement {
    const attrs: Record<string, string | undefined> = { class: `line ${line.kind}`, 'data-stream': line.kind };
    if (line.offset !== undefined) attrs['data-offset'] = String(line.offset);
    const el = h('div', attrs);
    if (line.kind === 'stdout' || line.kind === 'stderr') {
      const key = `${line.source ?? ''}/${line.kind}`;
      let parser = this.parsers.get(key);
      if (parser === undefined) {
        parser = new AnsiParser();
        this.parsers.set(key, parser);
        // Old runs' colour state is never needed again; keep the map small for endless restarts.
        if (this.parsers.size > 64) this.parsers.delete(this.parsers.keys().next().value!);
      }
      el.append(...renderSegments(parser.parse(line.text)));
      if (line.text.length === 0) el.append('\u200b');
    } else {
      el.append(line.text);
    }
    if (line.truncated === true) el.append(h('span', { class: 'truncated', title: 'line truncated by the producer' }, ' …[truncated]'));
    return el;
  }

  private trim(): void {
    const excess = this.count - MAX_LINES;
    if (excess <= 0) return;
    const anchor = this.screen.children[excess] as HTMLElement | undefined;
    const before = this.follow || anchor === undefined ? 0 : anchor.getBoundingClientRect().top;
    const range = document.createRange();
    range.setStartBefore(this.screen.firstChild!);
    if (anchor === undefined) range.setEndAfter(this.screen.lastChild!);
    else range.setEndBefore(anchor);
    range.deleteContents();
    this.count = this.screen.childElementCount;
    // Keep what the reader is looking at in place while older lines disappear above it.
    if (!this.follow && anchor !== undefined) this.screen.scrollTop -= before - anchor.getBoundingClientRect().top;
  }

  private atBottom(): boolean {
    return this.screen.scrollHeight - this.screen.scrollTop - this.screen.clientHeight <= STICK_PX;
  }

  private onScroll(): void {
    const bottom = this.atBottom();
    if (bottom !== this.follow) this.setFollow(bottom);
  }

  private setFollow(follow: boolean): void {
    this.follow = follow;
    this.el.dataset['follow'] = String(follow);
    if (follow) {
      this.unseen = 0;
      this.jump.hidden = true;
    } else {
      this.jump.hidden = false;
      this.jump.textContent = '↓ new output';
    }
  }

  private scrollToBottom(): void {
    this.screen.scrollTop = this.screen.scrollHeight;
  }
}
