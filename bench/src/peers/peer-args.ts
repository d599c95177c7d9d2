/** The peers are started by the bench with `--port N --redis-port N`; they print one ready line. */
export interface PeerArgs {
  port: number;
  redisPort: number;
}

export function readPeerArgs(argv: readonly string[]): PeerArgs {
  const get = (name: string): number => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(argv[i + 1]) : NaN;
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} <integer> is required`);
    return v;
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
