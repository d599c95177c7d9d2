import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Terminal, type OutStream } from '../src/terminal.js';

class Capture implements OutStream {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 80,
  ) {}
  write(t: string): boolean {
    this.text += t;
    return true;
  }
}

const env = (o: { noColor?: boolean; dumbTerminal?: boolean } = {}) => ({ noColor: o.noColor ?? false, dumbTerminal: o.dumbTerminal ?? false });

test('colours only on a TTY, and never with NO_COLOR or TERM=dumb', () => {
  assert.equal(new Terminal(new Capture(true), new Capture(true), env()).colourOut, true);
  assert.equal(new Terminal(new Capture(false), new Capture(true), env()).colourOut, false);
  assert.equal(new Terminal(new Capture(true), new Capture(true), env()).colourErr, true);
  assert.equal(new Terminal(new Capture(true), new Capture(false), env()).colourErr, false);
  assert.equal(new Terminal(new Capture(true), new Capture(true), env({ noColor: true })).colourOut, false);
  assert.equal(new Terminal(new Capture(true), new Capture(true), env({ noColor: true })).colourErr, false);
  assert.equal(new Terminal(new Capture(true), new Capture(true), env({ dumbTerminal: true })).colourOut, false);
  const t = new Terminal(new Capture(true), new Capture(true), env({ noColor: true }));
  assert.equal(t.paint('x', 'red'), 'x');
  assert.equal(t.sanitize('\u001b[31mred\u001b[0m', 'stdout'), 'red');
});

test('the status line is drawn only on an interactive stderr, and erased before the next line of output', () => {
  const out = new Capture(true);
  const err = new Capture(true);
  const t = new Terminal(out, err, env());
  t.status('connecting…');
  assert.match(err.text, /\r\u001b\[2K.*connecting…/);
  t.out('data');
  assert.ok(err.text.endsWith('\r\u001b[2K'), 'status erased');
  assert.equal(out.text, 'data\n');

  const pipeErr = new Capture(false);
  const quiet = new Terminal(new Capture(false), pipeErr, env());
  quiet.status('connecting…');
  quiet.err('a line');
  assert.equal(pipeErr.text, 'a line\n');
});

test('a status line longer than the terminal is cut to fit', () => {
  const err = new Capture(true, 20);
  new Terminal(new Capture(true), err, env({ noColor: true })).status('x'.repeat(100));
  assert.equal(err.text, `\r\u001b[2K${'x'.repeat(18)}…`);
});
