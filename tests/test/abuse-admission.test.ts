// Abuse scenario for finding 5 of issue 9: admission limits that match the machine. A gateway run
// with a small open-file limit takes clients up to GATEWAY_MAX_CONNECTIONS (derived from that
// limit), answers the next ones 503, drops sockets past its bound at accept, and keeps its admin
// port and job spawning working throughout.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { FD_RESERVE, PUBLIC_SOCKET_HEADROOM } from '@megaphone/gateway';
import { waitFor } from '../src/cluster/wait.js';
import { ABUSE_TOKEN, Stack } from '../src/abuse/stack.js';
import { Watcher } from '../src/abuse/watcher.js';

const FILE_LIMIT = 700;
const MAX_CONNECTIONS = FILE_LIMIT - FD_RESERVE;
/** Idle sockets opened at once past the limit: more than the process has file descriptors. */
const FLOOD = 800;

let stack: Stack;
const open: WebSocket[] = [];
const idle: Socket[] = [];

before(async () => {
  stack = await Stack.start({ fileLimit: FILE_LIMIT });
});
after(async () => {
  for (const ws of open) ws.terminate();
  for (const s of idle) s.destroy();
  await stack?.stop();
});

function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      open.push(ws);
      resolve(101);
    });
    ws.on('error', () => resolve(0));
  });
}

it(`with ${FILE_LIMIT} open files: ${MAX_CONNECTIONS} clients, then 503, sockets past the bound dropped, admin and jobs keep working`, async () => {
  const watcher = await Watcher.start(stack);
  try {
    const baseline = await watcher.baseline();
    assert.equal(await stack.metric('megaphone_connections'), 1);
    for (let i = 1; i < MAX_CONNECTIONS; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, MAX_CONNECTIONS - i) }, () => upgradeStatus(stack.ws)));
      assert.deepEqual(new Set(batch), new Set([101]), stack.tail());
    }
    assert.equal(await stack.metric('megaphone_connections'), MAX_CONNECTIONS);
    assert.equal(await upgradeStatus(stack.ws), 503, 'the next client is told the gateway is full');

    // A flood of idle sockets: the port keeps PUBLIC_SOCKET_HEADROOM of them, drops the rest at accept.
    await Promise.all(
      Array.from({ length: FLOOD }, async () => {
        const s = connect(stack.port, '127.0.0.1');
        s.on('error', () => {});
        idle.push(s);
        await Promise.race([once(s, 'connect'), once(s, 'close')]);
      }),
    );
    const dropped = await waitFor('sockets dropped at accept', async () => {
      const n = await stack.metric('megaphone_sockets_dropped_total');
      return n >= FLOOD - PUBLIC_SOCKET_HEADROOM ? n : 0;
    }, { timeoutMs: 10_000 });
    const files = stack.openFiles();
    assert.ok(files < FILE_LIMIT, `open files ${files} < ${FILE_LIMIT}`);

    assert.equal(await stack.status(`${stack.admin}/metrics`), 200, 'the admin port answers at the limit');
    const run = await fetch(`${stack.api}/v1/jobs/echo/runs`, { method: 'POST', headers: { authorization: `Bearer ${ABUSE_TOKEN}`, 'content-type': 'application/json' } });
    assert.equal(run.status, 202, 'a job run starts at the limit');
    const { run: id } = (await run.json()) as { run: string };
    const exited = await waitFor('the run to exit', async () => {
      const r = (await (await fetch(`${stack.api}/v1/runs/${id}`)).json()) as { state: string; code: number | null };
      return r.state === 'exited' ? r : undefined;
    }, { timeoutMs: 10_000 });
    assert.equal(exited.code, 0, `the job ran: ${JSON.stringify(exited)}`);

    console.log(`finding 5: ${MAX_CONNECTIONS} clients admitted, next one 503; ${dropped} of ${FLOOD} idle sockets dropped at accept; ${files} open files of ${FILE_LIMIT}; job exit ${exited.code}`);
    console.log(`finding 5: ${await watcher.assertUnaffected(baseline, stack.tail())}`);
  } finally {
    watcher.stop();
  }
});
