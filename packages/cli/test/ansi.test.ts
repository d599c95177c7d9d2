import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keepColours, sanitizeLine, stripAnsi } from '../src/ansi.js';

const coloured = '\u001b[1;32m✔ build\u001b[0m passed in \u001b[36m3s\u001b[0m';

test('plain output loses every escape and keeps the text', () => {
  assert.equal(stripAnsi(coloured), '✔ build passed in 3s');
  assert.equal(sanitizeLine(coloured, false), '✔ build passed in 3s');
});

test('a colour terminal keeps colours and styles, and a reset is added at the end', () => {
  assert.equal(keepColours(coloured), coloured);
  assert.equal(sanitizeLine(coloured, true), `${coloured}\u001b[0m`);
  assert.equal(sanitizeLine('no colour', true), 'no colour');
});

test('a job cannot drive the terminal: titles, clipboard writes, cursor moves and controls are removed even on a TTY', () => {
  const hostile = 'a\u001b]0;owned\u0007b\u001b]52;c;ZXZpbA==\u001b\\c\u001b[2J\u001b[10;1Hd\u001bce\rf\u0008g\u009b31mh\ti';
  assert.equal(keepColours(hostile), 'abcdefgh\ti');
  assert.equal(stripAnsi(hostile), 'abcdefgh\ti');
});
