/**
 * The `n` items with the highest scores, highest first, in O(items · log n) time and O(n) memory:
 * a bounded min-heap instead of a sort of everything (a node may hold 50,000 connections and an
 * operator asks for the worst 50). Ties keep no particular order.
 */
export function topN<T>(items: Iterable<T>, n: number, score: (item: T) => number): T[] {
  if (n <= 0) return [];
  const heap: Array<{ item: T; score: number }> = [];
  for (const item of items) {
    const s = score(item);
    if (heap.length < n) {
      heap.push({ item, score: s });
      siftUp(heap, heap.length - 1);
    } else if (s > heap[0]!.score) {
      heap[0] = { item, score: s };
      siftDown(heap, 0);
    }
  }
  return heap.sort((a, b) => b.score - a.score).map((e) => e.item);
}

function siftUp(h: Array<{ score: number }>, i: number): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (h[parent]!.score <= h[i]!.score) return;
    [h[parent], h[i]] = [h[i]!, h[parent]!];
    i = parent;
  }
}

function siftDown(h: Array<{ score: number }>, i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let min = i;
    if (l < h.length && h[l]!.score < h[min]!.score) min = l;
    if (r < h.length && h[r]!.score < h[min]!.score) min = r;
    if (min === i) return;
    [h[min], h[i]] = [h[i]!, h[min]!];
    i = min;
  }
}
