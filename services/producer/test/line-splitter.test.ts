import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineSplitter, utf8Boundary, type SplitLine } from '../src/jobs/line-splitter.js';
import { OutputBatcher, type OutputPublication } from '../src/jobs/output-batcher.js';

function feed(max: number, chunks: Buffer[]): SplitLine[] {
  const s = new LineSplitter(max);
  return [...chunks.flatMap((c) => s.push(c)), ...s.end()];
}

test('splits on \\n and \\r\\n, keeps empty lines and a lone \\r inside a line', () => {
  const lines = feed(100, [Buffer.from('a\r\nb\n\nc\rd\r\n')]);
  assert.deepEqual(lines.map((l) => l.text), ['a', 'b', '', 'c\rd']);
  assert.ok(lines.every((l) => !l.truncated));
});

test('a \\r\\n split across two chunks is one line ending', () => {
  assert.deepEqual(feed(100, [Buffer.from('one\r'), Buffer.from('\ntwo\r'), Buffer.from('\n')]).map((l) => l.text), ['one', 'two']);
});

test('a UTF-8 character split across chunks at every possible byte is decoded intact', () => {
  const text = 'héllo → 世界 🎉 done\n';
  const bytes = Buffer.from(text);
  for (let i = 1; i < bytes.length; i++) {
    for (let j = i; j < bytes.length; j++) {
      const lines = feed(1000, [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
      assert.deepEqual(lines.map((l) => l.text), ['héllo → 世界 🎉 done'], `split at ${i},${j}`);
    }
  }
});

test('the final partial line (no trailing newline) is flushed at the end', () => {
  const s = new LineSplitter(100);
  assert.deepEqual(s.push(Buffer.from('full\npart')).map((l) => l.text), ['full']);
  assert.deepEqual(s.end(), [{ text: 'part', truncated: false }]);
  assert.deepEqual(s.end(), []);
});

test('lines longer than maxLineBytes are cut at a character boundary, flagged, and the rest skipped', () => {
  const long = 'x'.repeat(30) + 'é'.repeat(20); // 70 bytes
  const lines = feed(41, [Buffer.from(`short\n${long}\nafter\n`)]);
  assert.deepEqual(lines.map((l) => [l.text, l.truncated]), [
    ['short', false],
    ['x'.repeat(30) + 'é'.repeat(5), true], // 40 bytes: the 41st would split an é
    ['after', false],
  ]);
  // Arriving one byte at a time changes nothing, and the splitter never buffers the skipped part.
  const bytes = Buffer.from(`short\n${long}\nafter\n`);
  const slow = feed(41, [...bytes].map((b) => Buffer.from([b])));
  assert.deepEqual(slow, lines);
});

test('a line of exactly maxLineBytes is not truncated, even with \\r\\n', () => {
  assert.deepEqual(feed(4, [Buffer.from('abcd\r\nabcde\n')]), [
    { text: 'abcd', truncated: false },
    { text: 'abcd', truncated: true },
  ]);
});

test('utf8Boundary never splits a character', () => {
  const b = Buffer.from('a€b'); // € is 3 bytes
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map((n) => utf8Boundary(b, n)), [0, 1, 1, 1, 4, 5, 5]);
});

test('property: any chunking of any output gives the same lines as reading it whole', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('\n', '\r\n', '\r', '€', '🎉')), { maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.integer({ min: 4, max: 64 }),
      (parts, cuts, max) => {
        const bytes = Buffer.from(parts.join(''));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(bytes.subarray(prev, p));
          prev = p;
        }
        chunks.push(bytes.subarray(prev));
        const whole = feed(max, [bytes]);
        assert.deepEqual(feed(max, chunks), whole);
        for (const l of whole) assert.ok(Buffer.byteLength(l.text) <= max);
        assert.ok(!whole.some((l) => l.text.includes('\n')));
      },
    ),
  );
});

test('lines arriving in the same tick share one publication; the cap splits them, order kept', async () => {
  const pubs: OutputPublication[] = [];
  const b = new OutputBatcher('r1', 200, (p) => pubs.push(p));
  const many = Array.from({ length: 30 }, (_, i) => ({ text: `line ${i}`, truncated: false }));
  b.add('stdout', many.slice(0, 10));
  b.add('stderr', [{ text: 'oops', truncated: false }]);
  b.add('stdout', many.slice(10));
  assert.equal(pubs.length, 0, 'batched until the end of the tick');
  await new Promise((r) => setImmediate(r));
  const stdout = pubs.filter((p) => p.stream === 'stdout');
  assert.ok(stdout.length > 1, 'split under the publication cap');
  assert.deepEqual(stdout.flatMap((p) => p.lines), many.map((l) => l.text));
  for (const p of pubs) assert.ok(Buffer.byteLength(JSON.stringify(p)) <= 200, JSON.stringify(p));
  assert.deepEqual(pubs.filter((p) => p.stream === 'stderr'), [{ run: 'r1', stream: 'stderr', lines: ['oops'] }]);
});

test('a truncated line ends its publication, which is flagged: the flag always means the last line', () => {
  const pubs: OutputPublication[] = [];
  const b = new OutputBatcher('r3', 1000, (p) => pubs.push(p));
  b.add('stdout', [
    { text: 'a', truncated: false },
    { text: 'b-cut', truncated: true },
    { text: 'c', truncated: false },
    { text: 'd-cut', truncated: true },
  ]);
  b.flush();
  assert.deepEqual(pubs, [
    { run: 'r3', stream: 'stdout', lines: ['a', 'b-cut'], truncated: true },
    { run: 'r3', stream: 'stdout', lines: ['c', 'd-cut'], truncated: true },
  ]);
});

test('a line too large for one publication is cut to fit and flagged', () => {
  const pubs: OutputPublication[] = [];
  const b = new OutputBatcher('r2', 256, (p) => pubs.push(p));
  b.add('stdout', [{ text: 'cut', truncated: true }]);
  b.flush();
  b.add('stdout', [{ text: '\u001b[31m'.repeat(100), truncated: false }, { text: 'next', truncated: false }]);
  b.flush();
  assert.deepEqual(pubs[0], { run: 'r2', stream: 'stdout', lines: ['cut'], truncated: true });
  const escaped = pubs.slice(1);
  assert.equal(escaped[0]!.truncated, true);
  assert.equal(escaped[0]!.lines.length, 1);
  assert.ok(escaped[0]!.lines[0]!.length < 500 && '\u001b[31m'.repeat(100).startsWith(escaped[0]!.lines[0]!));
  assert.deepEqual(escaped[1], { run: 'r2', stream: 'stdout', lines: ['next'] });
  for (const p of pubs) assert.ok(Buffer.byteLength(JSON.stringify(p)) <= 256);
});
