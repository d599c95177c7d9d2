// The chaos soak's short run (`npm run soak` runs it for longer; docs/reliability.md records a long run):
// one minute of seeded faults against Redis, two producers and three gateways under load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, runSoak } from '../src/soak/soak.js';

const SEED = Number(process.env.SOAK_SEED ?? 20261203);

test(`chaos soak, 1 minute, seed ${SEED}: streams consecutive or noticed, nothing acknowledged lost, one run per job, memory back in its band`, { timeout: 300_000 }, async (t) => {
  const report = await runSoak({ minutes: 1, seed: SEED, leaseMs: 3000, log: (line) => t.diagnostic(line) });
  for (const line of formatReport(report).split('\n')) t.diagnostic(line);
  assert.ok(report.faults.length >= 6, `faults injected: ${report.faults.length}`);
  assert.ok(report.deliveries > 0);
  assert.deepEqual(report.violations, []);
});
