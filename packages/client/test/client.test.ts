import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { MegaphoneClient, type GapEvent, type StateChange, type Anomaly } from '../src/index.js';
import type { WebSocketConstructor } from '../src/index.js';
import { FakeGateway } from './fake-gateway.js';
import { waitFor } from './wait.js';

const WS = WebSocket as unknown as WebSocketConstructor;

interface Recorder {
  offsets: number[];
  data: unknown[];
  gaps: GapEvent[];
}

function recorder(): Recorder & { onMessage(d: unknown, m: { offset: number }): void; onGap(g: GapEvent): void } {
  const r = { offsets: [] as number[], data: [] as unknown[], gaps: [] as GapEvent[] };
  return {
    ...r,
    onMessage(d: unknown, m: { offset: number }) {
      r.offsets.push(m.offset);
      r.data.push(d);
    },
    onGap(g: GapEvent) {
      r.gaps.push(g);
    },
    get offsets() {
      return r.offsets;
    },
    get data() {
      return r.data;
    },
    get gaps() {
      return r.gaps;
    },
  };
}

function client(gw: FakeGateway): MegaphoneClient {
  return new MegaphoneClient({ url: gw.url, WebSocket: WS, backoff: { initialMs: 20, maxMs: 100 } });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

test('replays history then delivers live publications in order, and reports the node', async () => {
  const gw = await FakeGateway.start();
  const c = client(gw);
  try {
    for (let i = 1; i <= 10; i++) gw.publish('cmd:a', { i });
    const states: StateChange[] = [];
    c.on('state', (s) => states.push(s));
    const r = recorder();
    c.subscribe('cmd:a', { history: 5, onMessage: r.onMessage, onGap: r.onGap });
    await waitFor('history', () => r.offsets.length === 5);
    gw.publish('cmd:a', { i: 11 });
    await waitFor('live', () => r.offsets.length === 6);
    assert.deepEqual(r.offsets, range(6, 11));
    assert.deepEqual(r.data.at(-1), { i: 11 });
    assert.equal(c.node, 'fake-1');
    assert.deepEqual(states.map((s) => s.state), ['connecting', 'open']);
    assert.deepEqual(c.position('cmd:a'), { epoch: 'e1', offset: 11 });
    assert.deepEqual(r.gaps, []);
  } finally {
    c.close();
    await gw.close();
  }
});

test('after a dropped connection it reconnects and resumes with since, without duplicates or gaps', async () => {
  const gw = await FakeGateway.start();
  const c = client(gw);
  try {
    const states: string[] = [];
    c.on('state', (s) => states.push(s.state));
    const r = recorder();
    c.subscribe('cmd:a', { onMessage: r.onMessage, onGap: r.onGap });
    await waitFor('subscribed', () => c.state === 'open' && gw.sockets.size === 1 && gw.commands.length === 1);
    await waitFor('position', () => c.position('cmd:a'));
    for (let i = 1; i <= 3; i++) gw.publish('cmd:a', i);
    await waitFor('first messages', () => r.offsets.length === 3);
    gw.terminateAll();
    for (let i = 4; i <= 8; i++) gw.publish('cmd:a', i);
    await waitFor('resumed messages', () => r.offsets.length === 8);
    gw.publish('cmd:a', 9);
    await waitFor('live after resume', () => r.offsets.length === 9);
    assert.deepEqual(r.offsets, range(1, 9));
    assert.deepEqual(r.gaps, []);
    const resume = gw.commands.filter((cmd) => cmd.op === 'subscribe').at(-1);
    assert.deepEqual(resume, { op: 'subscribe', id: resume?.id, channel: 'cmd:a', since: { epoch: 'e1', offset: 3 } });
    assert.deepEqual(states, ['connecting', 'open', 'reconnecting', 'reconnecting', 'open']);
    assert.equal(c.node, 'fake-2');
  } finally {
    c.close();
    await gw.close();
  }
});

test('a resume that history cannot cover is reported as a reset, never silently', async () => {
  const gw = await FakeGateway.start();
  const c = client(gw);
  try {
    const r = recorder();
    c.subscribe('cmd:a', { onMessage: r.onMessage, onGap: r.onGap });
    await waitFor('subscribed', () => c.position('cmd:a'));
    gw.publish('cmd:a', 1);
    await waitFor('first', () => r.offsets.length === 1);
    gw.terminateAll();
    for (let i = 2; i <= 5; i++) gw.publish('cmd:a', i);
    gw.trimHistory('cmd:a');
    await waitFor('reset', () => r.gaps.length === 1);
    assert.deepEqual(r.gaps[0], {
      channel: 'cmd:a',
      kind: 'reset',
      from: { epoch: 'e1', offset: 1 },
      epoch: 'e1',
      to: 5,
      reason: 'history_expired',
    });
    gw.publish('cmd:a', 6);
    await waitFor('live after reset', () => r.offsets.length === 2);
    assert.deepEqual(r.offsets, [1, 6]);
  } finally {
    c.close();
    await gw.close();
  }
});

test('a channel whose epoch changed while away restarts from the new epoch with a reset', async () => {
  const gw = await FakeGateway.start();
  const c = client(gw);
  try {
    const r = recorder();
    c.subscribe('cmd:a', { onMessage: r.onMessage, onGap: r.onGap });
    await waitFor('subscribed', () => c.position('cmd:a'));
    gw.publish('cmd:a', 1);
    gw.publish('cmd:a', 2);
    await waitFor('first', () => r.offsets.length === 2);
    gw.terminateAll();
    gw.resetChannel('cmd:a', 'e2');
    await waitFor('reset', () => r.gaps.length === 1);
    assert.equal(r.gaps[0]?.reason, 'epoch_changed');
    assert.equal(r.gaps[0]?.epoch, 'e2');
    gw.publish('cmd:a', 'new');
    await waitFor('live in new epoch', () => r.offsets.length === 3);
    assert.deepEqual(c.position('cmd:a'), { epoch: 'e2', offset: 1 });
  } finally {
    c.close();
    await gw.close();
  }
});

test('splits frames on newlines, drops duplicate offsets and reports skipped ones', async () => {
  const gw = await FakeGateway.start();
  const c = client(gw);
  try {
    const anomalies: Anomaly[] = [];
    c.on('anomaly', (a) => anomalies.push(a));
    const r = recorder();
    c.subscribe('x', { onMessage: r.onMessage, onGap: r.onGap });
    await waitFor('subscribed', () => c.position('x'));
    const m = (offset: number) => JSON.stringify({ op: 'message', channel: 'x', offset, ts: 1, data: offset });
    gw.sendRaw([m(1), m(2), m(2), m(1), m(5), m(6)].join('\n'));
    await waitFor('messages', () => r.offsets.length === 4);
    assert.deepEqual(r.offsets, [1, 2, 5, 6]);
    assert.deepEqual(anomalies.map((a) => a.kind), ['duplicate', 'duplicate', 'skipped']);
    assert.equal(r.gaps.length, 1);
    assert.deepEqual({ kind: r.gaps[0]?.kind, from: r.gaps[0]?.from?.offset, to: r.gaps[0]?.to }, { kind: 'skipped', from: 2, to: 4 });
  } finally {
    c.close();
    await gw.close();
  }
});

test('a gap announced by the server moves the position and reaches the application', async () => {
  const gw = await FakeGateway.start();
  const c = client(gw);
  try {
    const r = recorder();
    c.subscribe('x', { onMessage: r.onMessage, onGap: r.onGap });
    await waitFor('subscribed', () => c.position('x'));
    const m = (offset: number) => JSON.stringify({ op: 'message', channel: 'x', offset, ts: 1, data: offset });
    gw.sendRaw([m(1), JSON.stringify({ op: 'gap', channel: 'x', epoch: 'e1', offset: 7, reason: 'history_expired' }), m(8)].join('\n'));
    await waitFor('messages', () => r.offsets.length === 2);
    assert.deepEqual(r.offsets, [1, 8]);
    assert.equal(r.gaps.length, 1);
    assert.deepEqual(r.gaps[0], { channel: 'x', kind: 'lost', from: { epoch: 'e1', offset: 1 }, epoch: 'e1', to: 7, reason: 'history_expired' });
  } finally {
    c.close();
    await gw.close();
  }
});

test('keeps retrying while the gateway is down and resumes when it is back on the same port', async () => {
  let gw = await FakeGateway.start();
  const port = gw.port;
  const c = client(gw);
  try {
    const r = recorder();
    c.subscribe('x', { onMessage: r.onMessage, onGap: r.onGap });
    await waitFor('subscribed', () => c.position('x'));
    gw.publish('x', 1);
    await waitFor('first', () => r.offsets.length === 1);
    const attempts: number[] = [];
    c.on('state', (s) => {
      if (s.state === 'reconnecting') attempts.push(s.attempt ?? 0);
    });
    await gw.close();
    // Retrying while nothing listens: at least two failed attempts before the gateway is back.
    await waitFor('two failed reconnects', () => attempts.length >= 2);
    gw = await FakeGateway.start(port);
    // The new fake starts from scratch: same epoch name, offset 0 < 1, so the resume is refused.
    await waitFor('open again', () => c.state === 'open', { timeoutMs: 5000 });
    await waitFor('reset reported', () => r.gaps.length === 1);
    assert.equal(r.gaps[0]?.kind, 'reset');
  } finally {
    c.close();
    await gw.close();
  }
});

test('unsubscribing stops delivery and tells the server', async () => {
  const gw = await FakeGateway.start();
  const c = client(gw);
  try {
    const r = recorder();
    const unsubscribe = c.subscribe('x', { onMessage: r.onMessage });
    await waitFor('subscribed', () => c.position('x'));
    gw.publish('x', 1);
    await waitFor('first', () => r.offsets.length === 1);
    unsubscribe();
    await waitFor('unsubscribe sent', () => gw.commands.some((cmd) => cmd.op === 'unsubscribe'));
    const other = recorder();
    c.subscribe('z', { onMessage: other.onMessage });
    await waitFor('subscribed to z', () => c.position('z'));
    gw.publish('x', 2);
    gw.publish('z', 1);
    // One connection delivers in order: once z's publication is in, x's would have been too.
    await waitFor('the publication on z', () => other.offsets.length === 1);
    assert.deepEqual(r.offsets, [1]);
    assert.throws(() => {
      c.subscribe('y', { onMessage: () => {} });
      c.subscribe('y', { onMessage: () => {} });
    }, /already subscribed/);
  } finally {
    c.close();
    await gw.close();
  }
});

test('a refused subscribe reaches onError and the subscription is dropped', async () => {
  const gw = await FakeGateway.start();
  const c = client(gw);
  try {
    gw.onSubscribe = (ws, cmd) => {
      gw.send(ws, { op: 'error', id: cmd.id, code: 'forbidden', message: 'no' });
      return true;
    };
    let refused: { code: string } | undefined;
    c.subscribe('secret', { onMessage: () => {}, onError: (e) => (refused = e) });
    await waitFor('error', () => refused);
    assert.equal(refused?.code, 'forbidden');
    assert.equal(c.position('secret'), undefined);
  } finally {
    c.close();
    await gw.close();
  }
});

test('on a conflated channel an offset jump is expected and not reported', async () => {
  const gw = await FakeGateway.start();
  const c = client(gw);
  try {
    const anomalies: Anomaly[] = [];
    c.on('anomaly', (a) => anomalies.push(a));
    const r = recorder();
    c.subscribe('uptime', { conflated: true, onMessage: r.onMessage, onGap: r.onGap });
    await waitFor('subscribed', () => c.position('uptime'));
    const m = (offset: number) => JSON.stringify({ op: 'message', channel: 'uptime', offset, ts: 1, data: offset });
    gw.sendRaw([m(1), m(4), m(4), m(9)].join('\n'));
    await waitFor('messages', () => r.offsets.length === 3);
    assert.deepEqual(r.offsets, [1, 4, 9]);
    assert.deepEqual(r.gaps, []);
    assert.deepEqual(anomalies.map((a) => a.kind), ['duplicate']);
  } finally {
    c.close();
    await gw.close();
  }
});

test('a silent connection gets an application ping, then is dropped and replaced', async () => {
  const gw = await FakeGateway.start();
  const c = new MegaphoneClient({ url: gw.url, WebSocket: WS, backoff: { initialMs: 20, maxMs: 100 }, idleTimeoutMs: 300 });
  try {
    c.connect();
    await waitFor('open', () => c.state === 'open');
    gw.muted = true;
    await waitFor('a ping', () => gw.commands.some((cmd) => cmd.op === 'ping'));
    // The ping went unanswered: the connection is given up after twice the idle timeout.
    gw.muted = false;
    await waitFor('a new connection', () => gw.connectionCount === 2);
    await waitFor('open again', () => c.state === 'open' && c.node === 'fake-2');
    // While answered, pings keep the connection up: four more pings, over twice the idle timeout.
    const pings = gw.commands.filter((cmd) => cmd.op === 'ping').length;
    await waitFor('four more answered pings', () => gw.commands.filter((cmd) => cmd.op === 'ping').length >= pings + 4, { timeoutMs: 5000 });
    assert.equal(gw.connectionCount, 2);
  } finally {
    c.close();
    await gw.close();
  }
});
