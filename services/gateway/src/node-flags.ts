import { fileURLToPath } from 'node:url';

/**
 * The V8 flags the gateway runs with wherever Megaphone starts it: the container's CMD
 * (services/gateway/Dockerfile), `npm run gateway`, `npm run cluster` and the benchmark. A test keeps
 * those in step with this list.
 *
 * `--max-semi-space-size=4` (MiB): V8 grows the young generation up to 2 × 16 MiB when many
 * long-lived objects are allocated quickly, as in a burst of connections, and keeps the pages; on a
 * gateway holding 10,000 idle connections that is ~2.3 KiB of RSS per connection, more than the
 * connections' own state. Capped at 4 MiB, idle RSS at 10k falls from ~6.5 to ~4.3 KiB per
 * connection; at 2M deliveries/s the CPU per delivery did not move (docs/benchmarks.md). Operators
 * who prefer fewer scavenges give their own command (NODE_OPTIONS does not override a flag on the
 * command line).
 *
 * `--single-threaded-gc`: V8 collects on the main thread instead of handing parts of each scavenge
 * and of marking to helper threads. A gateway is one process per core; its helpers compete with it
 * for that core, and on a busy core the main thread waits for helpers the scheduler has not run yet,
 * so a scavenge's pause stretches far beyond its work. Measured in docs/benchmarks.md ("Low-rate
 * latency").
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--single-threaded-gc'];

/**
 * The gateway's command (package.json `bin`): run it as `node ...GATEWAY_NODE_FLAGS GATEWAY_BIN`
 * so the flags apply whatever starts it (its shebang carries them too).
 */
export const GATEWAY_BIN: string = fileURLToPath(new URL('../../bin/megaphone-gateway.js', import.meta.url));
