/**
 * A small, safe ANSI SGR interpreter: turns a line of terminal output into styled text segments.
 * Colours, bold, dim, italic, underline and inverse are kept; every other escape sequence (cursor
 * movement, OSC titles and links, …) and control character is dropped. The style carries over from
 * line to line, as in a terminal, so one parser is kept per output stream.
 */

export type AnsiColor = { palette: number } | { rgb: readonly [number, number, number] };

export interface AnsiStyle {
  fg?: AnsiColor;
  bg?: AnsiColor;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

export interface AnsiSegment {
  text: string;
  style: Readonly<AnsiStyle>;
}

// CSI … final byte | OSC … (BEL | ST) | any other two-byte escape.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;:?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

export class AnsiParser {
  private readonly style: AnsiStyle = {};

  /**
   * A carriage return inside a line (progress bars) overwrites it in a terminal: only the text after
   * the last one is kept, while the styles set before it still apply.
   */
  parse(line: string): AnsiSegment[] {
    const parts = line.split('\r');
    let kept: AnsiSegment[] = [];
    for (const part of parts) {
      const segments = this.parsePart(part);
      if (segments.length > 0 || parts.length === 1) kept = segments;
    }
    return kept;
  }

  private parsePart(line: string): AnsiSegment[] {
    const out: AnsiSegment[] = [];
    let last = 0;
    const push = (text: string) => {
      const clean = text.replace(CONTROL, '');
      if (clean.length > 0) out.push({ text: clean, style: { ...this.style } });
    };
    for (const m of line.matchAll(ESCAPE)) {
      push(line.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[2] === 'm') this.applySgr(m[1] ?? '');
    }
    push(line.slice(last));
    return out;
  }

  reset(): void {
    clear(this.style);
  }

  private applySgr(params: string): void {
    const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
    const s = this.style;
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i]!;
      if (c === 0) clear(s);
      else if (c === 1) s.bold = true;
      else if (c === 2) s.dim = true;
      else if (c === 3) s.italic = true;
      else if (c === 4) s.underline = true;
      else if (c === 7) s.inverse = true;
      else if (c === 22) {
        delete s.bold;
        delete s.dim;
      } else if (c === 23) delete s.italic;
      else if (c === 24) delete s.underline;
      else if (c === 27) delete s.inverse;
      else if (c >= 30 && c <= 37) s.fg = { palette: c - 30 };
      else if (c >= 90 && c <= 97) s.fg = { palette: c - 90 + 8 };
      else if (c === 39) delete s.fg;
      else if (c >= 40 && c <= 47) s.bg = { palette: c - 40 };
      else if (c >= 100 && c <= 107) s.bg = { palette: c - 100 + 8 };
      else if (c === 49) delete s.bg;
      else if (c === 38 || c === 48) {
        const [color, used] = extendedColor(codes, i + 1);
        if (color !== undefined) {
          if (c === 38) s.fg = color;
          else s.bg = color;
        }
        i += used;
      }
      // Anything else (blink, fonts, …) is ignored on purpose.
    }
  }
}

function clear(style: AnsiStyle): void {
  for (const key of Object.keys(style) as (keyof AnsiStyle)[]) delete style[key];
}

/** `5;n` (256 colours) or `2;r;g;b` (true colour) after a 38/48; returns how many codes it used. */
function extendedColor(codes: readonly number[], at: number): [AnsiColor | undefined, number] {
  const mode = codes[at];
  if (mode === 5) {
    const n = codes[at + 1];
    return [n !== undefined && n >= 0 && n <= 255 ? { palette: n } : undefined, 2];
  }
  if (mode === 2) {
    const rgb = [codes[at + 1], codes[at + 2], codes[at + 3]].map((v) => Math.max(0, Math.min(255, v ?? 0)));
    return [{ rgb: [rgb[0]!, rgb[1]!, rgb[2]!] }, 4];
  }
  return [undefined, 0];
}

/** The RGB of a 256-colour palette entry ≥ 16 (the 6×6×6 cube and the grey ramp). */
export function paletteRgb(n: number): readonly [number, number, number] {
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return [v, v, v];
  }
  const i = n - 16;
  const level = (x: number) => (x === 0 ? 0 : 55 + x * 40);
  return [level(Math.floor(i / 36) % 6), level(Math.floor(i / 6) % 6), level(i % 6)];
}
