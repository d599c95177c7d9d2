export interface SoakOptions {
  /** How long faults are injected (the soak also warms up and settles around it). */
  minutes: number;
  seed: number;
  /** PRODUCER_LEASE_MS of both producers. */
  leaseMs: number;
  /** Progress lines (the report is returned, and printed by main.ts). */
  log(line: string): void;
}

export const SOAK_USAGE = 'usage: npm run soak -- [--minutes 2] [--seed N] [--lease-ms 3000]';

/** `--minutes N --seed S --lease-ms L`; throws a one-line message on anything else. */
export function parseSoakArgs(argv: readonly string[]): Omit<SoakOptions, 'log'> {
  const out = { minutes: 2, seed: Math.floor(Math.random() * 2 ** 31), leaseMs: 3000 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = Number(argv[++i]);
    if (argv[i] === undefined || !Number.isFinite(value)) throw new Error(`${flag} needs a number`);
    if (flag === '--minutes' && value > 0) out.minutes = value;
    else if (flag === '--seed' && Number.isInteger(value) && value >= 0) out.seed = value;
    else if (flag === '--lease-ms' && value >= 1000) out.leaseMs = value;
    else throw new Error(`unknown or invalid argument ${flag} ${argv[i]}`);
  }
  return out;
}
