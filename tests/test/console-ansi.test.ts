import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadConsoleModule } from '../src/console/load-console-module.js';

// The console's ANSI SGR interpreter (services/gateway/console/src/ansi.ts), outside the browser.

type Color = { palette: number } | { rgb: readonly [number, number, number] };
interface Segment {
  text: string;
  style: { fg?: Color; bg?: Color; bold?: boolean; dim?: boolean; italic?: boolean; underline?: boolean; inverse?: boolean };
}
interface AnsiModule {
  AnsiParser: new () => { parse(line: string): Segment[]; reset(): void };
  paletteRgb(n: number): readonly [number, number, number];
}

let ansi: AnsiModule;
before(async () => {
  ansi = await loadConsoleModule<AnsiModule>('ansi.ts');
});

const parse = (line: string) => new ansi.AnsiParser().parse(line);
const ESC = '\x1b';

test('colours and text styles become segments, reset returns to plain', () => {
  assert.deepEqual(parse(`${ESC}[31mred${ESC}[0m plain ${ESC}[1;32mbold green${ESC}[m`), [
    { text: 'red', style: { fg: { palette: 1 } } },
    { text: ' plain ', style: {} },
    { text: 'bold green', style: { bold: true, fg: { palette: 2 } } },
  ]);
  assert.deepEqual(parse(`${ESC}[94;43;4mx${ESC}[39;49;24my`), [
    { text: 'x', style: { fg: { palette: 12 }, bg: { palette: 3 }, underline: true } },
    { text: 'y', style: {} },
  ]);
});

test('256-colour and true-colour codes are understood, and their parameters are not read as styles', () => {
  assert.deepEqual(parse(`${ESC}[38;5;208mo${ESC}[48;2;1;2;3;1mb`), [
    { text: 'o', style: { fg: { palette: 208 } } },
    { text: 'b', style: { fg: { palette: 208 }, bg: { rgb: [1, 2, 3] }, bold: true } },
  ]);
  assert.deepEqual(ansi.paletteRgb(208), [255, 135, 0]);
  assert.deepEqual(ansi.paletteRgb(232), [8, 8, 8]);
  assert.deepEqual(ansi.paletteRgb(16), [0, 0, 0]);
});

test('styles carry over to the next line of the same stream, as in a terminal', () => {
  const p = new ansi.AnsiParser();
  p.parse(`${ESC}[33mstill`);
  assert.deepEqual(p.parse('yellow'), [{ text: 'yellow', style: { fg: { palette: 3 } } }]);
});

test('other escape sequences and control characters are dropped', () => {
  const text = (line: string) => parse(line).map((s) => s.text).join('');
  assert.equal(text(`a${ESC}[2Kb${ESC}[10;20Hc`), 'abc');
  assert.equal(text(`${ESC}]0;window title\x07d${ESC}]8;;http://x\x1b\\link${ESC}]8;;${ESC}\\`), 'dlink');
  assert.equal(text('bell\x07 back\x08space\x00nul\tTab'), 'bell backspacenul\tTab');
  assert.equal(text(`${ESC}[?25lhidden cursor${ESC}[?25h`), 'hidden cursor');
});

test('a carriage return overwrites the line, keeping the styles set before it', () => {
  assert.deepEqual(parse(`${ESC}[32m 10%\r 55%\r100%`), [{ text: '100%', style: { fg: { palette: 2 } } }]);
  assert.deepEqual(parse('done\r'), [{ text: 'done', style: {} }]);
});

test('whatever the input, the output text carries no escape or control character', () => {
  const chars = fc.constantFrom('\x1b', '[', ']', ';', 'm', '\x07', '\\', '\r', '\x00', '\x7f', '3', '8', '5', '2', '1', '0', 'a', 'é', '<', '\t');
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 60 }).map((a) => a.join('')), (line) => {
      for (const seg of parse(line)) {
        assert.doesNotMatch(seg.text, /[\x00-\x08\x0a-\x1f\x7f]/);
        assert.ok(seg.text.length > 0);
      }
    }),
    { numRuns: 2000 },
  );
});

test('text without escapes or control characters comes out unchanged and unstyled', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }).filter((s) => !/[\x00-\x1f\x7f]/.test(s)), (line) => {
      const out = parse(line);
      assert.equal(out.map((s) => s.text).join(''), line);
      for (const seg of out) assert.deepEqual(seg.style, {});
    }),
  );
});
