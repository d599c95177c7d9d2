import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clip, formatBytes, renderTop, wrap, type TopSnapshot } from '../src/top-view.js';

const now = Date.parse('2026-01-01T12:00:00Z');
const snapshot: TopSnapshot = {
  at: now,
  connections: [
    { id: 's-slow', remote: '10.0.0.5', sub: 'alice', transport: 'ws', connectedAt: '2026-01-01T11:00:00Z', queueBytes: 524_288, state: 'catching_up', channels: [{ channel: 'cmd:build', offset: 40, lag: 17 }, { channel: 'uptime', offset: 9, lag: 0 }] },
    { id: 's-ok', remote: '127.0.0.1', sub: null, transport: 'sse', connectedAt: Date.parse('2026-01-01T11:59:55Z'), queueBytes: 0, state: 'live', channels: [{ channel: 'uptime', offset: 10, lag: 0 }] },
  ],
  channels: [{ channel: 'uptime', subscribers: 42, nodes: { 'gw-2': 12, 'gw-1': 30 } }],
};
const plain = (t: string) => t;

test('top shows the slowest connections and the busiest channels in columns', () => {
  const lines = renderTop(snapshot, { admin: 'http://gw:9100', sort: 'queue', width: 200, height: 50, paint: plain, now, keys: true });
  const text = lines.join('\n');
  assert.match(lines[0]!, /megaphone top {2}http:\/\/gw:9100 {2}12:00:00 {2}sort: queue {3}s sort {2}q quit/);
  assert.match(text, /s-slow +alice +10\.0\.0\.5 +ws +1h 00m +512\.0 KiB +catching_up +17 +cmd:build\(-17\) uptime/);
  assert.match(text, /s-ok +- +127\.0\.0\.1 +sse +5\.0s +0 B +live +0 +uptime/);
  assert.match(text, /uptime +42 +gw-1:30 gw-2:12/);
});

test('top fits the terminal: no line wider than it, no more lines than its rows', () => {
  for (const [width, height] of [[40, 10], [80, 24], [20, 5]] as const) {
    const lines = renderTop(snapshot, { admin: 'http://gw:9100', sort: 'lag', width, height, paint: plain, now, keys: true });
    assert.ok(lines.length <= height, `${lines.length} lines for ${height} rows`);
    for (const l of lines) assert.ok([...l].length <= width, `"${l}" wider than ${width}`);
  }
});

test('a failed refresh is shown above the last data; escapes do not count towards the width', () => {
  const lines = renderTop(undefined, { admin: 'http://gw:9100', sort: 'age', width: 80, height: 24, paint: plain, now, error: 'cannot reach it', keys: false });
  assert.deepEqual(lines.slice(1), ['cannot reach it']);
  const narrow = renderTop(undefined, { admin: 'http://gw:9100', sort: 'age', width: 10, height: 24, paint: plain, now, error: 'cannot reach http://gw:9100 now', keys: false });
  assert.deepEqual(narrow.slice(1), ['cannot', 'reach', 'http://gw:', '9100 now'], 'a long error is wrapped, not cut');
  assert.deepEqual(wrap('a bb ccc', 4), ['a bb', 'ccc']);
  assert.equal(clip('\u001b[31mabcdef\u001b[0m', 3), '\u001b[31mabc\u001b[0m');
  assert.deepEqual([0, 1023, 1024, 1_572_864].map(formatBytes), ['0 B', '1023 B', '1.0 KiB', '1.5 MiB']);
});
