import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineBatches } from '../src/commands/publish.js';

async function collect(chunks: (string | Uint8Array)[]): Promise<string[][]> {
  const out: string[][] = [];
  async function* source() {
    for (const c of chunks) yield c;
  }
  for await (const b of lineBatches(source())) out.push(b);
  return out;
}

test('lines are split across chunk boundaries, CRLF and multi-byte characters included; a last line without newline counts', async () => {
  const euro = new TextEncoder().encode('€');
  const batches = await collect(['one\r\ntw', 'o\n', euro.slice(0, 1), euro.slice(1), '\n\nlast']);
  assert.deepEqual(batches.flat(), ['one', 'two', '€', '', 'last']);
});

test('lines that arrive together go out together, cut into bounded requests', async () => {
  const many = `${Array.from({ length: 1200 }, (_, i) => `line ${i}`).join('\n')}\n`;
  const batches = await collect([many]);
  assert.deepEqual(batches.map((b) => b.length), [500, 500, 200]);
  assert.equal(batches.flat()[1199], 'line 1199');
});

test('a line longer than a request could carry stops the reading with an error', async () => {
  await assert.rejects(collect(['x'.repeat(1024 * 1024 + 1)]), /longer than 1048576 bytes/);
});
