// Abuse fuzz run (issue 9): seeded random and mutated client frames, raw WebSocket frames, HTTP
// upgrade requests and producer API bodies against `npm start` as a child process. After each
// batch the process must be up, a healthy client must still get consecutive offsets, and RSS
// must stay inside its band. Reproduce a run with ABUSE_SEED=<the printed seed>.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { rawSend, rawWebSocket, exchange, wsFrame, UPGRADE_HEAD } from '../src/abuse/raw.js';
import { ABUSE_TOKEN, Stack } from '../src/abuse/stack.js';
import { LATENCY_SLACK_MS, Watcher } from '../src/abuse/watcher.js';

const SEED = Number(process.env.ABUSE_SEED ?? Date.now() % 2 ** 31);
const BATCHES = 5;
const MiB = 1024 * 1024;
/** RSS may grow this much over the run (allocator and heap growth under load; no per-input state). */
const RSS_BAND = 96 * MiB;

// ---- generators -------------------------------------------------------------------------------

const channel = fc.oneof(
  fc.constantFrom('watch', 'uptime', 'jobs', 'cmd:echo', 'a', 'x:y'),
  fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/),
  fc.string({ maxLength: 200 }),
);
const id = fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string({ maxLength: 5 }), fc.constant(null));
const command = fc.oneof(
  fc.record({ op: fc.constant('subscribe'), id, channel, history: fc.option(fc.oneof(fc.nat(5000), fc.integer(), fc.string()), { nil: undefined }) }, { requiredKeys: ['op', 'id', 'channel'] }),
  fc.record({ op: fc.constant('subscribe'), id, channel, since: fc.record({ epoch: fc.string({ maxLength: 80 }), offset: fc.oneof(fc.nat(), fc.integer(), fc.double()) }) }),
  fc.record({ op: fc.constant('unsubscribe'), id, channel }),
  fc.record({ op: fc.constant('ping'), id }),
  fc.record({ op: fc.string({ maxLength: 300 }), id }),
  fc.dictionary(fc.string({ maxLength: 4000 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }),
);
/** A frame as text: valid, mutated, or not JSON at all; or binary. */
const clientFrame: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  command.map((c) => JSON.stringify(c)),
  fc.tuple(command, fc.nat(), fc.string({ maxLength: 4 })).map(([c, at, s]) => {
    const t = JSON.stringify(c);
    const i = at % (t.length + 1);
    return t.slice(0, i) + s + t.slice(i + 1);
  }),
  fc.tuple(command, fc.nat()).map(([c, at]) => JSON.stringify(c).slice(0, at % 40)),
  command.map((c) => `${JSON.stringify(c)}\n${JSON.stringify(c)}`),
  command.map((c) => JSON.stringify([c])),
  fc.nat(6000).map((n) => `{"op":"ping","id":1,"${'k'.repeat(n)}":1}`),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 500, unit: 'binary' }),
  fc.uint8Array({ maxLength: 300 }),
);
const rawFrame = fc.oneof(
  fc.record({
    fin: fc.boolean(),
    rsv: fc.nat(7),
    opcode: fc.nat(15),
    masked: fc.boolean(),
    length: fc.option(fc.oneof(fc.nat(200_000), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), { nil: undefined }),
    payload: fc.uint8Array({ maxLength: 300 }),
  }).map((p) => wsFrame(p)),
  fc.uint8Array({ minLength: 1, maxLength: 400 }).map((b) => Buffer.from(b)),
);
const headerName = fc.stringMatching(/^[A-Za-z-]{1,20}$/);
const headerValue = fc.oneof(fc.string({ maxLength: 60 }), fc.nat(9000).map((n) => 'v'.repeat(n)));
const upgradeRequest = fc
  .record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'OPTIONS', 'PUT', 'CONNECT'), fc.stringMatching(/^[A-Z]{1,10}$/)),
    path: fc.oneof(fc.constantFrom('/ws', '/ws?x=1', '/', '/sse?channel=watch', '//ws', '/ws/../ws'), fc.string({ maxLength: 100 })),
    version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 '),
    upgrade: fc.option(fc.oneof(fc.constantFrom('websocket', 'WebSocket', 'h2c'), fc.string({ maxLength: 20 })), { nil: undefined }),
    connection: fc.option(fc.oneof(fc.constantFrom('Upgrade', 'keep-alive, Upgrade', 'close'), fc.string({ maxLength: 20 })), { nil: undefined }),
    key: fc.option(fc.oneof(fc.constant('dGhlIHNhbXBsZSBub25jZQ=='), fc.string({ maxLength: 40 })), { nil: undefined }),
    wsVersion: fc.option(fc.oneof(fc.constantFrom('13', '8', '0'), fc.string({ maxLength: 5 })), { nil: undefined }),
    extra: fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
    body: fc.string({ maxLength: 100 }),
  })
  .map((r) => {
    const h = [`${r.method} ${r.path} ${r.version}`, 'Host: 127.0.0.1'];
    if (r.upgrade !== undefined) h.push(`Upgrade: ${r.upgrade}`);
    if (r.connection !== undefined) h.push(`Connection: ${r.connection}`);
    if (r.key !== undefined) h.push(`Sec-WebSocket-Key: ${r.key}`);
    if (r.wsVersion !== undefined) h.push(`Sec-WebSocket-Version: ${r.wsVersion}`);
    for (const [k, v] of r.extra) h.push(`${k}: ${v}`);
    return `${h.join('\r\n')}\r\n\r\n${r.body}`;
  });
const publishBody = fc.oneof(
  fc.record({ channel, data: fc.jsonValue({ maxDepth: 4 }) }).map((b) => JSON.stringify(b)),
  fc.array(fc.record({ channel, data: fc.jsonValue({ maxDepth: 2 }) }), { maxLength: 30 }).map((b) => JSON.stringify(b)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.nat(50_000).map((n) => `{"channel":"deep","data":${'['.repeat(n)}${']'.repeat(n)}}`),
  fc.string({ maxLength: 300 }),
  fc.tuple(fc.record({ channel, data: fc.jsonValue() }), fc.nat(), fc.string({ maxLength: 3 })).map(([b, at, s]) => {
    const t = JSON.stringify(b);
    const i = at % (t.length + 1);
    return t.slice(0, i) + s + t.slice(i);
  }),
);

// ---- the run ------------------------------------------------------------------------------------

let stack: Stack;
let watcher: Watcher;
before(async () => {
  stack = await Stack.start({ env: { GATEWAY_MAX_CONNECTIONS: '2000' } });
  watcher = await Watcher.start(stack);
});
after(async () => {
  watcher?.stop();
  await stack?.stop();
});

async function sendClientFrames(frames: readonly (string | Uint8Array)[]): Promise<void> {
  // A few frames per connection: the command limit (50/s) is not what this exercises.
  for (let i = 0; i < frames.length; i += 10) {
    const ws = new WebSocket(stack.ws);
    ws.on('error', () => {});
    const opened = await new Promise<boolean>((r) => {
      ws.once('open', () => r(true));
      ws.once('error', () => r(false));
    });
    if (!opened) continue;
    for (const f of frames.slice(i, i + 10)) {
      if (ws.readyState !== WebSocket.OPEN) break;
      ws.send(f, { binary: typeof f !== 'string' });
    }
    await new Promise((r) => setTimeout(r, 30));
    ws.terminate();
  }
}

it(`survives fuzzed frames, raw WebSocket bytes, upgrade requests and API bodies (seed ${SEED})`, async () => {
  console.log(`abuse fuzz seed: ${SEED} (rerun with ABUSE_SEED=${SEED})`);
  const baseline = stack.rss();
  const before = await watcher.check(20);
  let maxRss = baseline;
  const outcomes = { frames: 0, raw: 0, rawClosed: 0, upgrades: 0, upgradeStatuses: new Map<string, number>(), bodies: 0, bodyStatuses: new Map<number, number>() };
  for (let b = 0; b < BATCHES; b++) {
    const seed = SEED + b;
    const frames = fc.sample(clientFrame, { seed, numRuns: 60 });
    await sendClientFrames(frames);
    outcomes.frames += frames.length;

    const raws = fc.sample(rawFrame, { seed, numRuns: 25 });
    await Promise.all(
      raws.map(async (bytes) => {
        const socket = await rawWebSocket(stack.port);
        const r = await exchange(socket, bytes, 400);
        outcomes.raw++;
        if (r.closed) outcomes.rawClosed++;
      }),
    );

    const requests = fc.sample(upgradeRequest, { seed, numRuns: 25 });
    await Promise.all(
      requests.map(async (req) => {
        const r = await rawSend(stack.port, req, 400);
        const status = /^HTTP\/1\.1 (\d{3})/.exec(r.head)?.[1] ?? (r.closed ? 'closed' : 'open');
        outcomes.upgrades++;
        outcomes.upgradeStatuses.set(status, (outcomes.upgradeStatuses.get(status) ?? 0) + 1);
      }),
    );

    const bodies = fc.sample(publishBody, { seed, numRuns: 20 });
    for (const body of bodies) {
      const res = await fetch(`${stack.api}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ABUSE_TOKEN}` },
        body,
        signal: AbortSignal.timeout(5000),
      });
      await res.arrayBuffer();
      assert.ok(res.status < 500 || res.status === 503, `API body answered ${res.status}: ${body.slice(0, 100)}`);
      outcomes.bodies++;
      outcomes.bodyStatuses.set(res.status, (outcomes.bodyStatuses.get(res.status) ?? 0) + 1);
    }

    // After each batch: up, the watcher unaffected, RSS inside its band.
    assert.equal(await stack.status(`${stack.admin}/healthz`), 200, `batch ${b} (seed ${seed}): the process is down\n${stack.tail()}`);
    const h = await watcher.check();
    assert.ok(h.open && h.consecutive && h.got >= 5, `batch ${b} (seed ${seed}): the watcher saw ${JSON.stringify(h)}`);
    assert.ok(h.p99Ms <= before.p99Ms + LATENCY_SLACK_MS, `batch ${b} (seed ${seed}): watcher p99 ${h.p99Ms} ms, ${before.p99Ms} ms before the run`);
    const rss = stack.rss();
    maxRss = Math.max(maxRss, rss);
    assert.ok(rss - baseline < RSS_BAND, `batch ${b} (seed ${seed}): RSS ${(rss / MiB).toFixed(1)} MiB, ${(baseline / MiB).toFixed(1)} at start`);
  }
  assert.doesNotMatch(stack.tail(200), /"level":(50|60)/, 'nothing was logged at error or fatal level');
  console.log(
    `abuse fuzz: ${outcomes.frames} client frames, ${outcomes.raw} raw WebSocket inputs (${outcomes.rawClosed} closed by the server), ` +
      `${outcomes.upgrades} upgrade requests ${JSON.stringify(Object.fromEntries(outcomes.upgradeStatuses))}, ${outcomes.bodies} API bodies ${JSON.stringify(Object.fromEntries(outcomes.bodyStatuses))}; ` +
      `RSS ${(baseline / MiB).toFixed(1)} → max ${(maxRss / MiB).toFixed(1)} MiB (band +${RSS_BAND / MiB}); watcher p99 ${watcher.p99Ms()} ms (${before.p99Ms} ms before the run)`,
  );
});
