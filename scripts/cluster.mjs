#!/usr/bin/env node
// `npm run cluster`: the docker-compose topology as local processes, without containers: Redis
// (redis-server from PATH), producers, gateways and a load balancer (haproxy from PATH; without it
// a small Node TCP balancer). The launcher is @megaphone/testing's startTopology (the one the tests
// and the bench use); this file only reads the command line, prints the URLs and handles signals.
// Built first when needed (npm run cluster preloads ./scripts/ensure-built.mjs).
//
//   npm run cluster                                   # balancer on :8080
//   npm run cluster -- --port 9000 --gateways 2 --producers 2
import { parseArgs } from 'node:util';
import { GATEWAY_BIN, GATEWAY_NODE_FLAGS } from '@megaphone/gateway';
import { PRODUCER_BIN } from '@megaphone/producer';
import { startTopology } from '@megaphone/testing';

const USAGE = 'usage: npm run cluster -- [--port 8080] [--gateways 3] [--producers 2] [--balancer auto|haproxy|node] [--quiet]';

function readArgs() {
  const { values } = parseArgs({
    strict: true,
    options: {
      port: { type: 'string', default: '8080' },
      gateways: { type: 'string', default: '3' },
      producers: { type: 'string', default: '2' },
      balancer: { type: 'string', default: 'auto' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const int = (name, min, max) => {
    const n = Number(values[name]);
    if (!/^\d+$/.test(values[name]) || n < min || n > max) throw new Error(`--${name} must be an integer ${min}–${max}`);
    return n;
  };
  if (!['auto', 'haproxy', 'node'].includes(values.balancer)) throw new Error('--balancer must be auto, haproxy or node');
  return { help: values.help, quiet: values.quiet, port: int('port', 0, 65535), gateways: int('gateways', 1, 32), producers: int('producers', 1, 8), balancer: values.balancer };
}

let args;
try {
  args = readArgs();
} catch (err) {
  console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

let topology;
let signals = 0;
const onSignal = (signal) => {
  signals++;
  if (signals > 1 || !topology) {
    console.error(`${signal}: stopping now`);
    process.exit(130);
  }
  console.log(`${signal}: stopping the cluster (gateways drain first; again to force)`);
  topology.stop().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  topology = await startTopology({
    bins: { gatewayBin: GATEWAY_BIN, gatewayNodeFlags: GATEWAY_NODE_FLAGS, producerBin: PRODUCER_BIN },
    gateways: args.gateways,
    producers: args.producers,
    // Two producers by default (SPEC §12): `producer` leads, `producer-2` stands by.
    producerName: (i) => (i === 0 ? 'producer' : `producer-${i + 1}`),
    balancer: args.balancer,
    port: args.port,
    env: { LOG_LEVEL: 'info' },
    // A quick Ctrl-C; production drains over 10-20 s.
    gatewayEnv: { GATEWAY_DRAIN_MS: '2000' },
    ...(args.quiet ? {} : { onLine: (name, line) => process.stdout.write(`[${name}] ${line}\n`) }),
    startTimeoutMs: 30_000,
  });
} catch (err) {
  console.error(`megaphone cluster failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const { balancer, producers, gateways, redis } = topology;
console.log([
  `megaphone cluster is up (balancer: ${balancer.kind}${balancer.kind === 'node' ? ', haproxy not found on PATH' : ''})`,
  `  console         ${balancer.url}/`,
  `  WebSocket       ${balancer.wsUrl}`,
  `  SSE             ${balancer.url}/sse?channel=uptime`,
  ...producers.map((p) => `  ${`${p.name} API`.padEnd(15)} ${p.httpUrl}/v1/jobs  metrics ${p.adminUrl}/metrics`),
  ...gateways.map((g) => `  ${g.name.padEnd(15)} ${g.httpUrl}  metrics ${g.adminUrl}/metrics`),
  `  redis           ${redis.server.url}`,
  ...(balancer.statsUrl ? [`  haproxy stats   ${balancer.statsUrl}`] : []),
].join('\n'));
for (const g of gateways) {
  g.exited.then(({ code, signal }) => {
    if (signals === 0) console.error(`${g.name} exited (code ${code}, signal ${signal}); the others keep serving`);
  });
}
