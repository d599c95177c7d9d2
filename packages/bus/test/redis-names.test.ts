import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, encodePublicationFrame } from '@megaphone/protocol';
import { channelKeys, channelOfPubsub, keySlot } from '../src/redis/keys.js';
import { RECONNECT_BACKOFF } from '../src/redis/options.js';
import { decodePayload } from '../src/redis/payload.js';

describe('Redis names of a channel', () => {
  it('puts the meta hash, the stream and the pub/sub channel of one channel in one hash slot', () => {
    const k = channelKeys('mp', 'cmd:build');
    assert.deepEqual(k, { meta: '{mp:cmd:build}:m', stream: '{mp:cmd:build}:s', pubsub: '{mp:cmd:build}:p' });
    assert.equal(keySlot(k.meta), keySlot(k.stream));
    assert.equal(keySlot(k.meta), keySlot(k.pubsub));
  });

  it('computes Redis Cluster slots like CLUSTER KEYSLOT', () => {
    // Values from the Redis documentation and the CRC16/XMODEM check value.
    assert.equal(keySlot('somekey'), 11058);
    assert.equal(keySlot('foo{hash_tag}'), 2515);
    assert.equal(keySlot('bar{hash_tag}'), 2515);
    assert.equal(keySlot('123456789'), 0x31c3);
    assert.equal(keySlot('{}x'), keySlot('{}x'), 'an empty tag hashes the whole key');
    assert.notEqual(keySlot('{}a'), keySlot('{}b'));
  });

  it('maps a pub/sub channel back to its Megaphone channel and ignores foreign ones', () => {
    assert.equal(channelOfPubsub('mp', channelKeys('mp', 'a:b.c').pubsub), 'a:b.c');
    assert.equal(channelOfPubsub('mp', channelKeys('other', 'x').pubsub), undefined);
    assert.equal(channelOfPubsub('mp', 'news'), undefined);
  });
});

describe('live payload', () => {
  it('slices the frame out of the payload without re-encoding it', () => {
    const frame = encodePublicationFrame('uptime', 42, 1_700_000_000_123, '{"s":"ü\\n"}');
    const payload = Buffer.concat([Buffer.from('AbC_-x1 42 1700000000123\n'), frame]);
    const d = decodePayload(payload);
    assert.ok(d);
    assert.deepEqual({ epoch: d.epoch, offset: d.offset, time: d.time }, { epoch: 'AbC_-x1', offset: 42, time: 1_700_000_000_123 });
    assert.deepEqual(d.frame, frame);
    assert.equal(d.frame.buffer, payload.buffer, 'the frame shares the message buffer');
  });

  it('rejects payloads without a valid header', () => {
    for (const bad of ['{"op":"message"}', 'e 0 1\n{}', 'e x 1\n{}', 'e 1\n{}', '\n{}']) assert.equal(decodePayload(Buffer.from(bad)), undefined, bad);
  });
});

it('reconnect delays: 50 ms doubling to 2 s, ±25 %', () => {
  const range = (n: number): [number, number] => [backoffDelay(RECONNECT_BACKOFF, n, () => 0), backoffDelay(RECONNECT_BACKOFF, n, () => 0.999999)];
  assert.deepEqual(range(1), [75, 124]);
  assert.deepEqual(range(5), [1200, 1999]);
  assert.deepEqual(range(6), [1500, 2499]);
  assert.deepEqual(range(30), [1500, 2499]);
});
