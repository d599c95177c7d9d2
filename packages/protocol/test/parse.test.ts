import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseClientFrame, MAX_CLIENT_FRAME_BYTES, MAX_ECHO_CHARS, ERROR_CODES, quoteInput, type ParseResult } from '../src/index.js';

function ok(r: ParseResult) {
  assert.equal(r.ok, true, r.ok ? '' : r.error.message);
  return (r as Extract<ParseResult, { ok: true }>).command;
}
function err(r: ParseResult) {
  assert.equal(r.ok, false);
  return (r as Extract<ParseResult, { ok: false }>).error;
}

describe('parseClientFrame', () => {
  it('accepts every command of the protocol', () => {
    assert.deepEqual(ok(parseClientFrame('{"op":"subscribe","id":1,"channel":"uptime"}')), { op: 'subscribe', id: 1, channel: 'uptime' });
    assert.deepEqual(ok(parseClientFrame('{"op":"subscribe","id":2,"channel":"cmd:build","history":100}')), {
      op: 'subscribe', id: 2, channel: 'cmd:build', history: 100,
    });
    assert.deepEqual(ok(parseClientFrame('{"op":"subscribe","id":3,"channel":"cmd:build","since":{"epoch":"e7f1","offset":41}}')), {
      op: 'subscribe', id: 3, channel: 'cmd:build', since: { epoch: 'e7f1', offset: 41 },
    });
    assert.deepEqual(ok(parseClientFrame('{"op":"unsubscribe","id":4,"channel":"uptime"}')), { op: 'unsubscribe', id: 4, channel: 'uptime' });
    assert.deepEqual(ok(parseClientFrame(Buffer.from('{"op":"ping","id":5}'))), { op: 'ping', id: 5 });
    assert.deepEqual(ok(parseClientFrame('{"op":"presence","id":7,"channel":"cmd:build"}')), { op: 'presence', id: 7, channel: 'cmd:build' });
    assert.deepEqual(ok(parseClientFrame('{"op":"auth","id":6,"token":"aa.bb.cc"}')), { op: 'auth', id: 6, token: 'aa.bb.cc' });
  });

  it('refuses an auth command without a JWT-shaped token', () => {
    for (const f of ['{"op":"auth","id":1}', '{"op":"auth","id":1,"token":5}', '{"op":"auth","id":1,"token":"a b.c.d"}', '{"op":"auth","id":1,"token":"abc"}', '{"op":"auth","id":1,"token":"a.b.c","x":1}']) {
      assert.equal(err(parseClientFrame(f)).code, 'bad_request', f);
      assert.equal(err(parseClientFrame(f)).id, 1, f);
    }
  });

  it('rejects what is not one JSON object, with bad_request', () => {
    for (const f of ['', 'nope', '[]', '1', 'null', '"x"', '{"op":"ping","id":1}{"op":"ping","id":2}', '{"op":"ping","id":1}\n{"op":"ping","id":2}']) {
      assert.equal(err(parseClientFrame(f)).code, 'bad_request', f);
    }
  });

  it('echoes the id of a command it rejects when the id is valid', () => {
    const e = err(parseClientFrame('{"op":"subscribe","id":7,"channel":"bad channel"}'));
    assert.equal(e.code, 'bad_request');
    assert.equal(e.id, 7);
    assert.equal(err(parseClientFrame('{"op":"fly","id":8}')).id, 8);
    assert.equal(err(parseClientFrame('{"op":"ping","id":-1}')).id, undefined);
  });

  it('rejects bad fields, unknown fields and out-of-range history', () => {
    const bad = [
      '{"op":"ping"}',
      '{"op":"ping","id":1.5}',
      '{"op":"ping","id":"1"}',
      '{"op":"ping","id":1,"x":1}',
      '{"id":1}',
      '{"op":"subscribe","id":1}',
      '{"op":"subscribe","id":1,"channel":""}',
      `{"op":"subscribe","id":1,"channel":"${'a'.repeat(129)}"}`,
      '{"op":"subscribe","id":1,"channel":"a/b"}',
      '{"op":"subscribe","id":1,"channel":"é"}',
      '{"op":"subscribe","id":1,"channel":"a","history":-1}',
      '{"op":"subscribe","id":1,"channel":"a","history":1001}',
      '{"op":"subscribe","id":1,"channel":"a","history":"5"}',
      '{"op":"subscribe","id":1,"channel":"a","history":5,"since":{"epoch":"e","offset":1}}',
      '{"op":"subscribe","id":1,"channel":"a","since":{"epoch":"e"}}',
      '{"op":"subscribe","id":1,"channel":"a","since":{"epoch":"e","offset":-1}}',
      '{"op":"subscribe","id":1,"channel":"a","since":{"epoch":"","offset":1}}',
      '{"op":"subscribe","id":1,"channel":"a","since":{"epoch":"e\\n","offset":1}}',
      '{"op":"subscribe","id":1,"channel":"a","since":{"epoch":"e","offset":1,"x":2}}',
      '{"op":"subscribe","id":1,"channel":"a","since":[1]}',
      '{"op":"unsubscribe","id":1,"channel":"a","history":1}',
      '{"op":"presence","id":1}',
      '{"op":"presence","id":1,"channel":"a b"}',
      '{"op":"presence","id":1,"channel":"a","since":{"epoch":"e","offset":1}}',
    ];
    for (const f of bad) assert.equal(err(parseClientFrame(f)).code, 'bad_request', f);
  });

  it('quotes at most MAX_ECHO_CHARS characters of what the client sent in its error messages', () => {
    const long = 'k'.repeat(4000);
    const frames = [
      `{"op":"ping","id":1,"${long}":1}`,
      `{"op":"subscribe","id":1,"channel":"a","${long}":1}`,
      `{"op":"unsubscribe","id":1,"channel":"a","${long}":1}`,
      `{"op":"subscribe","id":1,"channel":"a","since":{"epoch":"e","offset":1,"${long}":2}}`,
      `{"op":"${long}","id":1}`,
    ];
    for (const f of frames) {
      const e = err(parseClientFrame(f));
      assert.equal(e.code, 'bad_request');
      assert.ok(e.message.length <= MAX_ECHO_CHARS + 40, `${e.message.length} characters: ${e.message.slice(0, 80)}`);
    }
    assert.equal(quoteInput('short'), '"short"');
    assert.equal(quoteInput('x'.repeat(100)), `"${'x'.repeat(MAX_ECHO_CHARS)}…"`);
  });

  it('honours the configured history limit', () => {
    const f = '{"op":"subscribe","id":1,"channel":"a","history":5000}';
    assert.equal(parseClientFrame(f).ok, false);
    assert.equal(parseClientFrame(f, { maxHistory: 5000 }).ok, true);
  });

  it('accepts a frame of exactly 4 KiB and rejects one byte more', () => {
    const base = '{"op":"subscribe","id":1,"channel":"a","pad":""}';
    const pad = (n: number) => `{"op":"ping","id":1${' '.repeat(n)}}`;
    const exact = pad(MAX_CLIENT_FRAME_BYTES - pad(0).length);
    assert.equal(Buffer.byteLength(exact), MAX_CLIENT_FRAME_BYTES);
    assert.equal(parseClientFrame(exact).ok, true);
    assert.match(err(parseClientFrame(exact + ' ')).message, /limit/);
    assert.equal(parseClientFrame(base).ok, false);
  });

  it('never throws and always returns a catalogued code on random input (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array({ maxLength: 5000 }).map((a) => Buffer.from(a))), (input) => {
        const r = parseClientFrame(input);
        if (!r.ok) assert.ok(ERROR_CODES.includes(r.error.code));
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every well-formed command and returns exactly its fields (property)', () => {
    const channel = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/);
    const id = fc.nat();
    const cmd = fc.oneof(
      fc.record({ op: fc.constant('ping' as const), id }),
      fc.record({ op: fc.constant('auth' as const), id, token: fc.stringMatching(/^[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}$/) }),
      fc.record({ op: fc.constant('unsubscribe' as const), id, channel }),
      fc.record({ op: fc.constant('presence' as const), id, channel }),
      fc.record({ op: fc.constant('subscribe' as const), id, channel }),
      fc.record({ op: fc.constant('subscribe' as const), id, channel, history: fc.integer({ min: 0, max: 1000 }) }),
      fc.record({
        op: fc.constant('subscribe' as const), id, channel,
        since: fc.record({ epoch: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), offset: fc.nat() }),
      }),
    );
    fc.assert(
      fc.property(cmd, (c) => assert.deepEqual(ok(parseClientFrame(JSON.stringify(c))), JSON.parse(JSON.stringify(c)))),
      { numRuns: 2000 },
    );
  });

  it('rejects well-formed commands mutated with a foreign field (property)', () => {
    const key = fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !['op', 'id', 'channel', 'history', 'since', '__proto__'].includes(k));
    fc.assert(
      fc.property(key, fc.json(), (k, v) => {
        const frame = JSON.stringify({ op: 'subscribe', id: 1, channel: 'a', [k]: JSON.parse(v) as unknown });
        assert.equal(parseClientFrame(frame).ok, false);
      }),
      { numRuns: 500 },
    );
  });
});
