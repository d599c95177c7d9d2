import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { topN } from '../src/operator/top-n.js';

test('topN returns the n highest scores, highest first, like a full sort would', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 300 }), fc.integer({ min: 0, max: 60 }), (xs, n) => {
      const got = topN(xs, n, (x) => x);
      const want = [...xs].sort((a, b) => b - a).slice(0, n);
      assert.deepEqual(got, want);
    }),
    { numRuns: 500 },
  );
});
