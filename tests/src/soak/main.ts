// `npm run soak -- --minutes N --seed S`: the chaos soak (soak.ts); prints its report and exits 1
// on any violation, 2 on a bad argument.
import { SOAK_USAGE, parseSoakArgs } from './options.js';
import { formatReport, runSoak } from './soak.js';

let args: ReturnType<typeof parseSoakArgs>;
try {
  if (process.argv.includes('--help')) {
    process.stdout.write(`${SOAK_USAGE}\n`);
    process.exit(0);
  }
  args = parseSoakArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`soak: ${(err as Error).message}\n${SOAK_USAGE}\n`);
  process.exit(2);
}
const report = await runSoak({ ...args, log: (line) => process.stdout.write(`${line}\n`) });
process.stdout.write(`\n${formatReport(report)}\n`);
process.exit(report.violations.length === 0 ? 0 : 1);
