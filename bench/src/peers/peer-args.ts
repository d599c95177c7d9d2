import { parseArgs } from 'node:util';

/** The peers are started by the bench with `--port N --redis-port N`; they print one ready line. */
export interface PeerArgs {
  port: number;
  redisPort: number;
}

export function readPeerArgs(argv: readonly string[]): PeerArgs {
  const { values } = parseArgs({ args: [...argv], strict: true, options: { port: { type: 'string' }, 'redis-port': { type: 'string' } } });
  const get = (name: 'port' | 'redis-port'): number => {
    const v = values[name];
    if (v === undefined || !/^\d+$/.test(v)) throw new Error(`--${name} <integer> is required`);
    return Number(v);
  };
  return { port: get('port'), redisPort: get('redis-port') };
}

export function announceReady(port: number): void {
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
}

/** The peers and Megaphone's bench clients wait for this before the first publication. */
export const SUBSCRIBED_FRAME = '{"op":"subscribed"}';

export function channelFromUrl(url: string | undefined): string {
  return new URL(url ?? '/', 'http://localhost').searchParams.get('channel') ?? 'bench';
}

export function exitOnSignals(close: () => void): void {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      close();
      process.exit(0);
    });
  }
}
