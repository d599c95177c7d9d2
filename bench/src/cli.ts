import { parseArgs } from 'node:util';
import { ALL_SYSTEM_NAMES, SYSTEM_NAMES, type SystemName } from './systems.js';

export interface CliOptions {
  quick: boolean;
  scenarios: string[] | undefined;
  systems: SystemName[];
  profile: boolean;
  outDir: string | undefined;
  writeDocs: boolean;
  hubMicro: boolean;
  /** Autogroup niceness for every process the bench starts (see setSchedulingBoost). */
  boost: number | undefined;
  /** Megaphone with token authentication on: a key configured, every client authenticates. */
  auth: boolean;
  /** Measured rounds of the alternating scenarios (default: the scenario's own, 5). */
  rounds: number | undefined;
  help: boolean;
}

export const USAGE = `npm run bench -- [options]
  --quick                 2-minute smoke run (small client counts, short steps)
  --scenario a,b          only these scenarios (low-rate-ab, fanout-1k, fanout-5k, burst, many-channels,
                          slow-consumers, idle, idle-18k; "none" with --profile for the profile alone)
  --systems a,b           only these systems (megaphone, socketio, naive, floor; also batched-ws:
                          the floor's batching written with ws.send per client)
  --profile               also profile the gateway with --cpu-prof, 1,000 clients at 50 and 3,000 msg/s
  --out DIR               results directory (default bench/results)
  --no-docs               do not rewrite the results section of docs/benchmarks.md
  --no-hub                skip the hub micro-benchmark (bench/src/hub/)
  --auth                  Megaphone with tokens on (AUTH_JWT_SECRET set, no public channel; every
                          client sends {"op":"auth"} before subscribing), to compare with a run without
  --rounds N              measured rounds of low-rate-ab (default 5; more rounds, steadier medians)
  --boost N               on a shared machine: run every process the bench starts in its own session
                          (own autogroup) at autogroup niceness N, e.g. -10 (root); recorded in results`;

/** Parses `npm run bench -- …` (node:util parseArgs); throws with the usage on an unknown or bad option. */
export function parseCli(argv: readonly string[]): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      // parseArgs reads `--boost -10` as a missing value followed by an option; the documented
      // spelling keeps working by joining the two.
      args: argv.flatMap((a, i) => (a === '--boost' && /^-\d+$/.test(argv[i + 1] ?? '') ? [] : i > 0 && argv[i - 1] === '--boost' && /^-\d+$/.test(a) ? [`--boost=${a}`] : [a])),
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' },
        scenario: { type: 'string' },
        scenarios: { type: 'string' },
        systems: { type: 'string' },
        system: { type: 'string' },
        profile: { type: 'boolean' },
        out: { type: 'string' },
        'no-docs': { type: 'boolean' },
        'no-hub': { type: 'boolean' },
        auth: { type: 'boolean' },
        boost: { type: 'string' },
        rounds: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
  const opts: CliOptions = {
    quick: values.quick ?? false,
    scenarios: (values.scenario ?? values.scenarios)?.split(','),
    systems: [...SYSTEM_NAMES],
    profile: values.profile ?? false,
    outDir: values.out,
    writeDocs: !(values['no-docs'] ?? false),
    hubMicro: !(values['no-hub'] ?? false),
    boost: undefined,
    auth: values.auth ?? false,
    rounds: undefined,
    help: values.help ?? false,
  };
  const systems = values.systems ?? values.system;
  if (systems !== undefined) {
    const names = systems.split(',');
    for (const n of names) if (!ALL_SYSTEM_NAMES.includes(n as SystemName)) throw new Error(`unknown system ${n}`);
    opts.systems = names as SystemName[];
  }
  if (values.boost !== undefined) {
    const n = Number(values.boost);
    if (!/^-?\d+$/.test(values.boost) || n < -20 || n > 19) throw new Error('--boost takes a niceness from -20 to 19');
    opts.boost = n;
  }
  if (values.rounds !== undefined) {
    const n = Number(values.rounds);
    if (!/^\d+$/.test(values.rounds) || n < 1 || n > 100) throw new Error('--rounds takes a whole number from 1 to 100');
    opts.rounds = n;
  }
  return opts;
}
