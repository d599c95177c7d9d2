import { mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli, USAGE } from './cli.js';
import { startRedis } from './redis-server.js';
import { scenarios as allScenarios, type ScenarioSpec } from './scenarios.js';
import { runAlternating, runScenarioOn } from './run-scenario.js';
import { checkTargets } from './targets.js';
import { renderMarkdown, renderText } from './report.js';
import { topSelfTime } from './profile.js';
import type { BenchReport, ScenarioResult } from './results.js';
import { SYSTEM_LABELS } from './systems.js';
import { runHubMicroBench, type HubMicroRow } from './hub-micro-run.js';
import { killTrackedChildren, setSchedulingBoost } from './processes.js';

const repoRoot = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const DOCS = join(repoRoot, 'docs', 'benchmarks.md');
const START = '<!-- results:start -->';
const END = '<!-- results:end -->';

function machine(): BenchReport['machine'] {
  let redis = 'redis-server';
  try {
    redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ');
  } catch {
    // reported as plain redis-server
  }
  return {
    cpus: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    loadAvg: loadavg(),
    redis,
    note: 'Gateway/peer pinned to core 0; load generator, Redis and the Megaphone producer on core 1; loopback only; the machine is shared with other engineers running tests.',
  };
}

/** The newest .cpuprofile in dir. */
function newestProfile(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

async function main(): Promise<void> {
  const opts = parseCli(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  if (opts.boost !== undefined) setSchedulingBoost(opts.boost);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killTrackedChildren();
      process.exit(130);
    });
  }
  const outDir = opts.outDir ?? join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const specs: ScenarioSpec[] = allScenarios(opts.quick).filter((s) => !opts.scenarios || opts.scenarios.includes(s.id));
  if (specs.length === 0 && !opts.profile) throw new Error(`no scenario matches ${opts.scenarios?.join(',')}`);
  const startedAt = new Date().toISOString();
  const mach = machine();
  mach.note += opts.boost === undefined ? ' Default scheduling (shares CPU with the other sessions on the machine).' : ` Each benchmark process ran in its own session at autogroup niceness ${opts.boost} (--boost) to get its core on the shared machine.`;
  const log = (line: string): void => console.log(line);
  log(`megaphone bench${opts.quick ? ' (quick)' : ''}: ${specs.map((s) => s.id).join(', ')} × ${opts.systems.map((s) => SYSTEM_LABELS[s]).join(', ')}`);
  let hubMicro: HubMicroRow[] | undefined;
  if (opts.hubMicro) {
    log('\n-- Hub micro-benchmark (bench/src/hub/hub-micro.ts, pinned to the server core)');
    try {
      hubMicro = await runHubMicroBench(opts.quick);
      if (!hubMicro) log('  not built; skipped');
    } catch (err) {
      log(`  failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const redis = await startRedis();
  const results: ScenarioResult[] = [];
  const profiles: NonNullable<BenchReport['profiles']> = [];
  try {
    for (const given of specs) {
      // --rounds changes an alternating scenario's round count, and its title says so.
      const spec = given.alternateRounds !== undefined && opts.rounds !== undefined
        ? { ...given, alternateRounds: opts.rounds, title: given.title.replace(/then \d+ rounds/, `then ${opts.rounds} rounds`) }
        : given;
      log(`\n-- ${spec.title}`);
      const sc: ScenarioResult = { id: spec.id, title: spec.title, systems: [] };
      const runOpts = { redisPort: redis.port, redisPid: redis.pid, log, auth: opts.auth };
      if (spec.alternateRounds !== undefined) sc.systems.push(...(await runAlternating(opts.systems, spec, spec.alternateRounds, runOpts)));
      else for (const name of opts.systems) sc.systems.push(await runScenarioOn(name, spec, runOpts));
      results.push(sc);
    }
    if (opts.profile && opts.systems.includes('megaphone')) {
      // Where the gateway's time goes at the low-rate target's load and at saturation.
      for (const rate of opts.quick ? [50, 1000] : [50, 3000]) {
        const profDir = join(outDir, 'profiles', `${rate}`);
        mkdirSync(profDir, { recursive: true });
        const title = `Gateway CPU profile, 1,000 clients × ${rate} msg/s`;
        const spec: ScenarioSpec = {
          id: `profile-${rate}`, title: `Profile: Megaphone gateway, 1,000 clients × ${rate} msg/s`, clients: 1000, channels: 1, sampleEvery: 20, stopWhenSaturated: false, megaphoneVia: 'bus',
          steps: [{ label: `${rate} msg/s`, ratePerChannel: rate, durationMs: opts.quick ? 3000 : 8000, payloadChars: 32, drainMs: 3000 }],
        };
        log(`\n-- ${spec.title} (node --cpu-prof)`);
        const r = await runScenarioOn('megaphone', spec, { redisPort: redis.port, redisPid: redis.pid, log, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
        results.push({ id: spec.id, title: spec.title, systems: [r] });
        const file = newestProfile(profDir);
        if (file) profiles.push({ title, file: relative(repoRoot, file), top: topSelfTime(file) });
        else log('  no .cpuprofile written (the gateway did not exit cleanly)');
      }
    }
  } finally {
    await redis.stop();
  }
  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    quick: opts.quick,
    machine: mach,
    scenarios: results,
    targets: checkTargets(results, opts.quick),
    ...(hubMicro ? { hubMicro } : {}),
    ...(profiles.length > 0 ? { profiles } : {}),
  };
  console.log(renderText(report));
  const stamp = startedAt.replace(/[:.]/g, '-');
  const md = renderMarkdown(report);
  writeFileSync(join(outDir, `${stamp}${opts.quick ? '-quick' : ''}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, `${stamp}${opts.quick ? '-quick' : ''}.md`), `${md}\n`);
  writeFileSync(join(outDir, `latest${opts.quick ? '-quick' : ''}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, `latest${opts.quick ? '-quick' : ''}.md`), `${md}\n`);
  if (opts.writeDocs && !opts.quick && opts.outDir === undefined && existsSync(DOCS)) {
    const doc = readFileSync(DOCS, 'utf8');
    const a = doc.indexOf(START);
    const b = doc.indexOf(END);
    if (a >= 0 && b > a) writeFileSync(DOCS, `${doc.slice(0, a + START.length)}\n${md}\n${doc.slice(b)}`);
  }
  console.log(`\nresults: ${join(outDir, `latest${opts.quick ? '-quick' : ''}.md`)}`);
}

main().catch((err: unknown) => {
  killTrackedChildren();
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
