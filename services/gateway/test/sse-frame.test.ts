import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBus } from '@megaphone/bus';
import { Hub, type Sink } from '@megaphone/hub';
import { decodeSseId } from '@megaphone/protocol';
import { sseFraming } from '../src/sse/sse-frame.js';

interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

function parseSse(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of text.split('\n\n')) {
    if (block === '') continue;
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      const i = line.indexOf(': ');
      const field = line.slice(0, i);
      const value = line.slice(i + 2);
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    out.push({ id, event, data: data.join('\n') });
  }
  return out;
}

class Recorder implements Sink {
  readonly framing = sseFraming;
  readonly writes: Buffer[] = [];
  write(chunk: Buffer): void {
    this.writes.push(chunk);
  }
  bufferedBytes(): number {
    return 0;
  }
  close(): void {}
  events(): SseEvent[] {
    return parseSse(Buffer.concat(this.writes).toString('utf8'));
  }
}

const turns = async (n = 3): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

function setup(): { bus: MemoryBus; hub: Hub } {
  const bus = new MemoryBus({ history: () => ({ size: 100, ttlMs: 3_600_000 }) });
  return { bus, hub: new Hub({ bus, maxQueueBytes: 1 << 20, maxSubscriptionsPerConnection: 64 }) };
}

test('SSE connections get one event per message whose id holds every subscription position', async () => {
  const { bus, hub } = setup();
  await bus.publish('a', '1');
  const sink = new Recorder();
  const conn = hub.connect(sink);
  conn.send({ op: 'welcome', node: 'n', session: 's', heartbeatMs: 1000 });
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a', history: 1 });
  await conn.subscribe({ op: 'subscribe', id: 2, channel: 'b' });
  for (let i = 0; i < 3; i++) void bus.publish('a', JSON.stringify({ i }));
  void bus.publish('b', '"x"');
  await turns();
  const events = sink.events();
  assert.deepEqual(
    events.map((e) => e.event),
    ['welcome', 'subscribed', 'message', 'subscribed', 'message', 'message', 'message', 'message'],
  );
  assert.equal(events[0]!.id, undefined, 'no id before any subscription has a position');
  const epochA = (JSON.parse(events[1]!.data) as { epoch: string }).epoch;
  const positions = decodeSseId(events.at(-1)!.id!);
  assert.deepEqual(positions?.get('a'), { epoch: epochA, offset: 4 });
  assert.equal(positions?.get('b')?.offset, 1);
  const messages = events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as { channel: string; offset: number });
  assert.deepEqual(messages.map((m) => `${m.channel}${m.offset}`), ['a1', 'a2', 'a3', 'a4', 'b1']);
  // Every message's id carries its own offset for its channel.
  for (const e of events.filter((x) => x.event === 'message')) {
    const m = JSON.parse(e.data) as { channel: string; offset: number };
    assert.equal(decodeSseId(e.id!)?.get(m.channel)?.offset, m.offset);
  }
  await hub.close();
});

test('SSE data with raw newlines is split into data lines', async () => {
  const { bus, hub } = setup();
  const sink = new Recorder();
  const conn = hub.connect(sink);
  await conn.subscribe({ op: 'subscribe', id: 1, channel: 'a' });
  await bus.publish('a', '{\n"k": 1\n}');
  await turns();
  const msg = sink.events().find((e) => e.event === 'message');
  const parsed = JSON.parse(msg!.data) as { ts: number };
  assert.deepEqual(parsed, { op: 'message', channel: 'a', offset: 1, ts: parsed.ts, data: { k: 1 } });
  await hub.close();
});
