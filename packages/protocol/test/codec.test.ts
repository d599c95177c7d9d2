import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  encodePublicationFrame, decodeServerFrame, encodeServerMessage, encodeSseId, decodeSseId,
  isValidChannel, namespaceOf, closeReason, type StreamPosition,
} from '../src/index.js';

describe('codec', () => {
  it('encodes a publication once as the JSON a client parses', () => {
    const frame = encodePublicationFrame('cmd:build', 42, 1700000000000, '{"lines":["a \\"b\\""]}');
    assert.deepEqual(JSON.parse(frame.toString()), { op: 'message', channel: 'cmd:build', offset: 42, ts: 1700000000000, data: { lines: ['a "b"'] } });
  });

  it('splits coalesced frames on newlines', () => {
    const a = encodeServerMessage({ op: 'pong', id: 1 });
    const b = encodePublicationFrame('x', 1, 2, '"multi\\nline"');
    const msgs = decodeServerFrame(`${a.toString()}\n${b.toString()}`);
    assert.equal(msgs.length, 2);
    assert.deepEqual(msgs[1], { op: 'message', channel: 'x', offset: 1, ts: 2, data: 'multi\nline' });
  });

  it('round-trips SSE ids for any set of positions (property)', () => {
    const pos = fc.record({ epoch: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), offset: fc.nat() });
    const entries = fc.uniqueArray(fc.tuple(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/), pos), { selector: (e) => e[0], maxLength: 20 });
    fc.assert(
      fc.property(entries, (es) => {
        const m = new Map<string, StreamPosition>(es.map(([c, p]) => [c, { ...p }]));
        assert.deepEqual(decodeSseId(encodeSseId(m)), m);
      }),
    );
  });

  it('refuses SSE ids it did not write', () => {
    for (const id of ['x', 'a@b', 'a@b/', 'a@b/1,', 'a b@c/1', 'a@b/1e3', `a@b/${'9'.repeat(16)}`]) assert.equal(decodeSseId(id), undefined, id);
    assert.equal(decodeSseId('a@e/1,b@e/2', 1), undefined);
  });

  it('validates channel names and namespaces as SPEC §2 says', () => {
    assert.ok(isValidChannel('cmd:build'));
    assert.ok(isValidChannel('a'.repeat(128)));
    assert.ok(!isValidChannel('a'.repeat(129)));
    assert.ok(!isValidChannel(''));
    assert.ok(!isValidChannel('a b'));
    assert.equal(namespaceOf('cmd:build:x'), 'cmd');
    assert.equal(namespaceOf('uptime'), '');
  });

  it('keeps close reasons under the 123-byte limit', () => {
    assert.equal(closeReason({ retryAfterMs: 1800 }), '{"retryAfterMs":1800}');
    assert.equal(closeReason({ x: 'y'.repeat(200) }), '');
  });
});
