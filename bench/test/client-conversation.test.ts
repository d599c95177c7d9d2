import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createHistogram } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { BenchClient, type ClientProtocol, type Tally } from '../src/loadgen/ws-client.js';

// Every system's clients must hold the same TCP conversation: the kernel delays a connection's
// ACKs once its side has sent data, and over loopback the ACK work lands on whichever core the
// peer runs on, so a client that never speaks makes its server look cheaper per delivery. The
// load generator's client therefore sends its subscribe to every plain-WebSocket server, not only
// to Megaphone (the peers take the channel from the path and ignore the frame).

/** The text messages a client sends until it is ready (a server answered `subscribed`). */
async function conversation(protocol: ClientProtocol): Promise<string[]> {
  const received: string[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => {
    ws.on('message', (data) => received.push(data.toString()));
    // What every server under test sends once subscribed (the client is ready on it), a little
    // later than the upgrade so that anything the client sends unprompted arrives first.
    setTimeout(() => ws.send('{"op":"subscribed","channel":"bench"}'), 50);
  });
  await new Promise((r) => wss.once('listening', r));
  const tally: Tally = { delivered: 0, stalledDelivered: 0, frames: 0, disorder: 0, closed: 0, closeCodes: new Map(), latency: createHistogram() };
  const client = new BenchClient({ protocol, port: (wss.address() as AddressInfo).port, path: '/ws?channel=bench', channel: 'bench' }, tally, false);
  try {
    await client.start(5000);
  } finally {
    client.close();
    for (const ws of wss.clients) ws.terminate();
    await new Promise((r) => wss.close(r));
  }
  return received;
}

for (const protocol of ['plain', 'megaphone'] as const) {
  test(`a ${protocol} client sends its subscribe right after the upgrade`, async () => {
    assert.deepEqual(await conversation(protocol), ['{"op":"subscribe","id":1,"channel":"bench"}']);
  });
}
