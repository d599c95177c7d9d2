import { paletteRgb, type AnsiColor, type AnsiSegment } from './ansi.js';

/**
 * Renders parsed segments as spans. The 16 base colours are CSS classes (themeable, `fg-1` is
 * red); 256-colour and true-colour values are set through the CSSOM from numbers, never from text.
 */
export function renderSegments(segments: readonly AnsiSegment[]): Node[] {
  return segments.map(({ text, style }) => {
    const plain = style.fg === undefined && style.bg === undefined && !style.bold && !style.dim && !style.italic && !style.underline && !style.inverse;
    if (plain) return document.createTextNode(text);
    const span = document.createElement('span');
    span.textContent = text;
    const fg = style.inverse ? style.bg : style.fg;
    const bg = style.inverse ? style.fg : style.bg;
    applyColor(span, 'fg', fg);
    applyColor(span, 'bg', bg);
    if (style.inverse) span.classList.add('ansi-inverse');
    if (style.bold) span.classList.add('ansi-bold');
    if (style.dim) span.classList.add('ansi-dim');
    if (style.italic) span.classList.add('ansi-italic');
    if (style.underline) span.classList.add('ansi-underline');
    return span;
  });
}

function applyColor(span: HTMLElement, which: 'fg' | 'bg', color: AnsiColor | undefined): void {
  if (color === undefined) return;
  if ('palette' in color && color.palette < 16) {
    span.classList.add(`ansi-${which}-${color.palette}`);
    return;
  }
  const [r, g, b] = 'palette' in color ? paletteRgb(color.palette) : color.rgb;
  const css = `rgb(${r}, ${g}, ${b})`;
  if (which === 'fg') span.style.color = css;
  else span.style.backgroundColor = css;
}
