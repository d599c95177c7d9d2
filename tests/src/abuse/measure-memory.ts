// How much memory a gateway needs per connection and per channel (docs/limits.md).
//
//   npx tsc -b && node tests/dist/src/abuse/measure-memory.js [connections=2000]
//
// Runs a gateway (embedded bus) in a child process started with --expose-gc, opens idle WebSocket
// connections to it from this process, and reads the child's heap (after a full GC) and RSS at
// each step: no connections; N connections each subscribed to one shared channel; N connections
// each subscribed to a channel of its own. Per connection = step 1 / N; per channel = (step 2 −
// step 1) / N, i.e. what a channel with one subscriber costs beyond the subscription itself.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

interface Sample {
  heap: number;
  rss: number;
}

if (process.argv[2] === 'child') {
  const { MemoryBus } = await import('@megaphone/bus');
  const { readGatewayConfig, startGateway } = await import('@megaphone/gateway');
  const { createLogger, historyPolicyFor } = await import('@megaphone/runtime');
  const config = readGatewayConfig({
    LOG_LEVEL: 'silent',
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    GATEWAY_ADMIN_HOST: '127.0.0.1',
    GATEWAY_ADMIN_PORT: '0',
    GATEWAY_MAX_CHANNELS_PER_MINUTE: '1000000',
    GATEWAY_MAX_CONNECTIONS_PER_IP: '10000000',
    GATEWAY_CONNECTS_PER_IP_PER_SECOND: '100000',
  });
  const bus = new MemoryBus({ history: historyPolicyFor(config.namespaces) });
  const gw = await startGateway({ config, bus, logger: createLogger({ level: 'silent', service: 'gateway', node: 'measure' }) });
  const gc = (globalThis as { gc?: () => void }).gc!;
  process.on('message', (m: string) => {
    if (m === 'sample') {
      gc();
      gc();
      const u = process.memoryUsage();
      process.send!({ heap: u.heapUsed + u.external + u.arrayBuffers, rss: u.rss });
    } else if (m === 'exit') process.exit(0);
  });
  process.send!({ port: gw.port });
} else {
  const n = Number(process.argv[2] ?? 2000);
  const child = fork(fileURLToPath(import.meta.url), ['child'], { execArgv: ['--expose-gc'] });
  const [{ port }] = (await once(child, 'message')) as [{ port: number }];
  const sample = async (): Promise<Sample> => {
    await new Promise((r) => setTimeout(r, 300));
    child.send('sample');
    return ((await once(child, 'message')) as [Sample])[0];
  };
  const open = async (channel: (i: number) => string): Promise<WebSocket[]> => {
    const out: WebSocket[] = [];
    for (let i = 0; i < n; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, async (_, k) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
          await once(ws, 'open');
          ws.send(JSON.stringify({ op: 'subscribe', id: 1, channel: channel(i + k) }));
          await new Promise<void>((resolve) => ws.on('message', (d) => String(d).includes('"subscribed"') && resolve()));
          return ws;
        }),
      );
      out.push(...batch);
    }
    return out;
  };
  const none = await sample();
  const shared = await open(() => 'shared');
  const oneChannel = await sample();
  for (const ws of shared) ws.terminate();
  await sample();
  const own = await open((i) => `own:${i}`);
  const ownChannels = await sample();
  for (const ws of own) ws.terminate();
  const kib = (b: number): string => (b / 1024).toFixed(2);
  console.log(`gateway memory, ${n} idle WebSocket connections (Node ${process.version}):`);
  console.log(`  per connection (one subscription, shared channel): heap ${kib((oneChannel.heap - none.heap) / n)} KiB, RSS ${kib((oneChannel.rss - none.rss) / n)} KiB`);
  console.log(`  per channel (one subscriber each, beyond the subscription): heap ${kib((ownChannels.heap - oneChannel.heap) / n)} KiB`);
  child.send('exit');
}
