/**
 * Text from a job is printed as it was written, but a remote command must not be able to drive the
 * reader's terminal: only SGR sequences (colours and styles, `ESC [ … m`) survive, and only when
 * the output is a colour terminal. Every other escape (cursor movement, OSC titles, clipboard
 * writes, …) and every C0 control except tab is removed.
 */

// CSI: ESC [ params intermediates final. OSC/DCS/APC/PM/SOS: up to BEL or ESC \. Other ESC x pairs.
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b[\]PX^_][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[ -~]?|\u009b[0-?]*[ -/]*[@-~]/g;
const SGR = /^\u001b\[[0-9;:]*m$/;
// C0 controls except tab, DEL, and the C1 range (single-byte CSI and friends).
const CONTROLS = /[\u0000-\u0008\u000a-\u001a\u001c-\u001f\u007f-\u009f]/g;

/** The line with colours kept (for a colour terminal). */
export function keepColours(line: string): string {
  return line.replace(ESCAPES, (seq) => (SGR.test(seq) ? seq : '')).replace(CONTROLS, '');
}

/** The line as plain text (for a file, a pipe, or `NO_COLOR`). */
export function stripAnsi(line: string): string {
  return line.replace(ESCAPES, '').replace(CONTROLS, '');
}

/** A line made safe for the terminal it goes to; a kept colour is always reset at the end. */
export function sanitizeLine(line: string, colour: boolean): string {
  if (!colour) return stripAnsi(line);
  const kept = keepColours(line);
  return kept.includes('\u001b[') ? `${kept}\u001b[0m` : kept;
}
