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
  --boost N               on a shared machine: run every process the bench starts in its own session
                          (own autogroup) at autogroup niceness N, e.g. -10 (root); recorded in results`;

export function parseCli(argv: readonly string[]): CliOptions {
  const opts: CliOptions = { quick: false, scenarios: undefined, systems: [...SYSTEM_NAMES], profile: false, outDir: undefined, writeDocs: true, hubMicro: true, boost: undefined, auth: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--scenario' || a === '--scenarios') opts.scenarios = value().split(',');
    else if (a === '--systems' || a === '--system') {
      const names = value().split(',');
      for (const n of names) if (!ALL_SYSTEM_NAMES.includes(n as SystemName)) throw new Error(`unknown system ${n}`);
      opts.systems = names as SystemName[];
    } else if (a === '--profile') opts.profile = true;
    else if (a === '--out') opts.outDir = value();
    else if (a === '--no-docs') opts.writeDocs = false;
    else if (a === '--no-hub') opts.hubMicro = false;
    else if (a === '--auth') opts.auth = true;
    else if (a === '--boost') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < -20 || n > 19) throw new Error('--boost takes a niceness from -20 to 19');
      opts.boost = n;
    }
    else if (a === '--help' || a === '-h') opts.help = true;
    else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  return opts;
}
