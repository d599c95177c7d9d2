#!/usr/bin/env node
// Runs every compiled test file (`<workspace>/dist/test/**/*.test.js`) with node's test runner.
// `node scripts/test.mjs packages/hub services/gateway` limits the run to those workspaces.
// Expects `tsc -b` to have run (npm test does it).
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const workspaces = ['packages', 'services'].flatMap((d) => readdirSync(join(root, d)).map((w) => join(d, w))).concat(['tests', 'bench']);
const wanted = process.argv.slice(2);
const selected = wanted.length > 0 ? workspaces.filter((w) => wanted.some((x) => w.startsWith(x.replace(/\/$/, '')))) : workspaces;

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = selected.flatMap((w) => walk(join(root, w, 'dist', 'test'), [])).sort();
if (files.length === 0) {
  console.error('no compiled test files found: run `npx tsc -b` first');
  process.exit(1);
}
console.log(`running ${files.length} test files:\n${files.map((f) => `  ${relative(root, f)}`).join('\n')}`);
const concurrency = process.env.TEST_CONCURRENCY ?? '3';
const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=600000', ...files], {
  stdio: 'inherit',
  cwd: root,
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
