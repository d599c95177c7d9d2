import type { Style, Terminal } from './terminal.js';

export interface Cell {
  text: string;
  style?: Style[];
  /** Right-aligned (numbers). */
  right?: boolean;
}

/** Visible width of a string (no escapes are in cells; wide characters count as one). */
function width(s: string): number {
  return [...s].length;
}

function fit(s: string, w: number): string {
  const chars = [...s];
  return chars.length <= w ? s : `${chars.slice(0, Math.max(0, w - 1)).join('')}…`;
}

/**
 * Rows laid out in columns for a terminal of `maxWidth` columns: every column as wide as its widest
 * cell, the last column cut with "…" when the line would not fit. Styles apply after padding.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[], paint: (text: string, ...s: Style[]) => string, maxWidth = Infinity): string[] {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i]?.text ?? ''))));
  const line = (cells: readonly Cell[], header: boolean): string => {
    let used = 0;
    const out: string[] = [];
    for (let i = 0; i < headers.length; i++) {
      const cell = cells[i] ?? { text: '' };
      const last = i === headers.length - 1;
      const room = Math.max(1, maxWidth - used);
      let text = last ? fit(cell.text, room) : fit(cell.text, Math.min(widths[i]!, room));
      if (!last) text = cell.right === true ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
      const styles = header ? (['bold'] as Style[]) : (cell.style ?? []);
      out.push(styles.length > 0 ? paint(text, ...styles) : text);
      used += width(text) + 2;
      if (used >= maxWidth) break;
    }
    return out.join('  ').trimEnd();
  };
  return [line(headers.map((text) => ({ text })), true), ...rows.map((r) => line(r, false))];
}

/** A table on stdout, fitted to the terminal's width when stdout is one. */
export function printTable(term: Terminal, headers: readonly string[], rows: readonly (readonly Cell[])[]): void {
  const max = term.stdoutIsTTY ? (term.stdout.columns ?? 120) : Infinity;
  for (const l of renderTable(headers, rows, (t, ...s) => term.paint(t, ...s), max)) term.out(l);
}
